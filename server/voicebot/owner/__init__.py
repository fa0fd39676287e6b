"""For the restaurant's owner: the ``voicebot`` command line and the web app's read-only page."""
