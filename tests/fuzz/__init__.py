"""Coverage-guided fuzzing of the decoders and the engine (`make fuzz`).

`targets` holds the harnesses (each takes arbitrary bytes and fails only on a
bug), `seeds` builds their starting corpus from the engine's transcript
tests, `run` drives one harness under atheris for a number of runs or seconds.
"""
