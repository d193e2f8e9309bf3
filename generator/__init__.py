"""gen: learn the style of a folder of MIDI files or a file of poems and write new ones.

Data flows one way: files -> tokens (corpus plugins) -> ids (vocab) -> tensors (train) ->
logits (model) -> ids -> tokens -> files (sample).
"""

__version__ = "0.1.0"
