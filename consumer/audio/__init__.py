"""Music in the soundtrack: Chromaprint fingerprints of an upload's audio, matched segment by
segment against a catalogue of reference tracks (`vmc catalogue build` makes one).

`soundtrack` hears every audio stream of an upload within the decode worker's limits,
`pcm` decodes reference recordings to what Chromaprint wants, `chromaprint` binds the C
library, `catalogue` builds, saves and loads the reference fingerprints, `information` tells
noise, silence and tones (which must never match) from music, and `matching` finds where a
reference track plays inside an upload. Pure logic (`information`, `matching`) does no I/O.
"""
