"""Container-vs-native benchmark suite: does a container really cost nothing?"""

__version__ = "0.1.0"
