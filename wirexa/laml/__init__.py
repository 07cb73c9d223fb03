"""LaML (TwiML): documents from users' servers turned into call operations.

parse.py reads a document into verb objects (verbs/, one module per verb); interpreter.py runs
them on a live call, fetching the next document (documents.py) when a verb says so.
"""
