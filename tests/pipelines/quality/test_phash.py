import cv2
import pytest

from pipelines.quality.phash import hamming, phash
from tests.pipelines.quality.photos import NAMES, jpeg, photo


def test_hamming():
    assert hamming("00ff", "00ff") == 0 and hamming("0000", "ffff") == 16 and hamming("8000", "0001") == 2
    with pytest.raises(ValueError):
        hamming("00", "000")


def test_near_copies_are_near_and_photos_are_far():
    hashes = {name: phash(photo(name, side=512)) for name in NAMES}
    for name in NAMES:
        small = cv2.resize(photo(name, side=512), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        assert hamming(phash(small), hashes[name]) <= 6
        assert hamming(phash(jpeg(photo(name, side=512), 30)), hashes[name]) <= 6
    assert min(hamming(hashes[a], hashes[b]) for a in NAMES for b in NAMES if a < b) > 12
