from cjlib._version import __version__
