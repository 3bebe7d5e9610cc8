"""Music in the soundtrack: Chromaprint fingerprints of an upload's audio, matched segment by
segment against a catalogue of reference tracks (issue 15).

`pcm` decodes audio to what Chromaprint wants, `chromaprint` binds the C library,
`catalogue` builds, saves and loads the reference fingerprints, and `matching` finds where a
reference track plays inside an upload. Pure logic (`matching`) does no I/O.
"""
