"""A coarse vocabulary over ImageNet-1k's 1000 classes, for search facets and recommenders.

ImageNet's classes are fine-grained (118 dog breeds) and uneven (no "person" class): a search
wants "animal", not "Egyptian cat". Each coarse word is a set of classes; a class may belong to
one word or to none (most household objects are left out rather than guessed). The rule, kept
here and in README "Visual tags": a video has a coarse word when the word's summed class
score, on a frame, reaches `signals.visual.min_score`; the word's score is the highest such
sum over frames.
- animal: classes 0-397 (fish, birds, reptiles, amphibians, mammals, insects, sea life:
  ImageNet orders its animals first);
- food: classes 924-969 (dishes, vegetables, fruit, drinks; 923 "plate" is the dish alone);
- landscape: classes 970-980 (alp, cliff, coral reef, lakeside, seashore, valley, volcano...);
- plant: classes 984-997 (flowers, corn, fungi);
- vehicle, musical instrument, sport, indoor scene, weapon: the named classes below.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from consumer.models.specs import IMAGENET_LABELS

_RANGES = {"animal": (0, 397), "food": (924, 969), "landscape": (970, 980), "plant": (984, 997)}

_NAMED = {
    "vehicle": (
        "airliner", "airship", "ambulance", "amphibian", "beach wagon", "bicycle-built-"
        "for-two", "cab", "canoe", "catamaran", "container ship", "convertible", "fire engine",
        "fireboat", "forklift", "freight car", "garbage truck", "go-kart", "golfcart", "gondola",
        "half track", "jeep", "jinrikisha", "lifeboat", "limousine", "liner", "minibus",
        "minivan", "moped", "motor scooter", "mountain bike", "moving van", "passenger car",
        "pickup", "police van", "racer", "recreational vehicle", "school bus", "schooner",
        "snowmobile", "space shuttle", "speedboat", "sports car", "steam locomotive",
        "streetcar", "submarine", "tank", "tow truck", "tractor", "trailer truck", "tricycle",
        "trimaran", "trolleybus", "unicycle", "warplane", "yawl", "bullet train",
        "electric locomotive", "aircraft carrier", "horse cart", "oxcart", "dogsled",
    ),
    "musical instrument": (
        "accordion", "acoustic guitar", "banjo", "bassoon", "cello", "chime", "cornet", "drum",
        "electric guitar", "flute", "French horn", "gong", "grand piano", "harmonica", "harp",
        "maraca", "marimba", "oboe", "ocarina", "organ", "panpipe", "sax", "steel drum",
        "trombone", "upright", "violin", "drumstick",
    ),
    "sport": (
        "ballplayer", "baseball", "basketball", "bobsled", "croquet ball", "dumbbell", "barbell",
        "football helmet", "golf ball", "parallel bars", "ping-pong ball", "puck",
        "punching bag", "racket", "rugby ball", "ski", "soccer ball", "tennis ball",
        "volleyball", "balance beam", "horizontal bar", "scoreboard", "snorkel", "scuba diver",
    ),
    "indoor scene": (
        "barbershop", "bakery", "bookshop", "butcher shop", "cinema", "confectionery",
        "dining table", "entertainment center", "grocery store", "home theater", "library",
        "restaurant", "shoe shop", "tobacco shop", "toyshop", "wardrobe", "four-poster",
        "studio couch", "quilt", "window shade", "bookcase", "desk", "stove", "refrigerator",
        "dishwasher", "washbasin", "bathtub", "shower curtain", "toilet seat",
    ),
    "weapon": (
        "assault rifle", "rifle", "revolver", "holster", "cannon", "missile", "projectile",
        "cleaver",
    ),
}


def _build() -> Mapping[str, tuple[int, ...]]:
    index = {label: i for i, label in enumerate(IMAGENET_LABELS)}
    words: dict[str, tuple[int, ...]] = {
        word: tuple(range(first, last + 1)) for word, (first, last) in _RANGES.items()}
    for word, labels in _NAMED.items():
        unknown = [label for label in labels if label not in index]
        if unknown:
            raise ValueError(f"vocabulary {word!r} names no ImageNet class {unknown}")
        words[word] = tuple(sorted(index[label] for label in labels))
    return MappingProxyType(words)


# Coarse word -> the ImageNet class indices it covers.
VOCABULARY: Mapping[str, tuple[int, ...]] = _build()
