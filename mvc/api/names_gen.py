"""Generated run names: <adjective>-<noun>-<N>."""
import random

ADJECTIVES = ("amber", "bold", "brisk", "calm", "clever", "cosmic", "crisp", "dainty", "eager", "fancy", "gentle",
              "golden", "hardy", "icy", "jolly", "keen", "lively", "lucky", "misty", "noble", "polar", "proud",
              "quiet", "rapid", "rosy", "silent", "sleek", "smooth", "sunny", "swift", "tidy", "vivid", "wise")
NOUNS = ("aurora", "breeze", "canyon", "cedar", "comet", "dawn", "delta", "ember", "field", "fjord", "forest",
         "galaxy", "glade", "harbor", "lake", "meadow", "moon", "nebula", "ocean", "pine", "planet", "river",
         "sky", "snow", "star", "storm", "sun", "thunder", "valley", "wave", "wind", "zephyr")


def run_name(n: int) -> str:
    return f"{random.choice(ADJECTIVES)}-{random.choice(NOUNS)}-{n}"
