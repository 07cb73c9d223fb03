"""Audio as the media plane wants it: 8 kHz 16-bit mono PCM."""
