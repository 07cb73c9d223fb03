"""Call recordings: storage (storage.py), file work (files.py: WAV repair, trimming, MP3) and
the service that records live calls and finishes recordings (service.py)."""
