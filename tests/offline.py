"""What a child process runs first to prove it needs no network and no NLTK data: any socket use raises,
NLTK looks only in the empty folder given as its first argument, and a download exits the process."""

PRELUDE = """
import sys
import nltk

def no_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo"):
        raise RuntimeError("network use: " + event)

sys.addaudithook(no_network)
nltk.data.path[:] = [sys.argv[1]]
nltk.download = lambda *a, **k: sys.exit("nltk.download called")
"""
