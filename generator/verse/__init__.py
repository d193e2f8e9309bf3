"""Verse: syllables and rhyme (`prosody`), forms as line specs (`forms`), and a decoding
strategy that meets them with an unchanged model (`compose`). It drives the sampler for any
plugin of kind "verse"; the plugins themselves know nothing of it."""
