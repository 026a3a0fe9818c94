"""The world name gazetteer (prototype): names of many origins, folded as overlays show them."""
from phi_guard.detect.gazetteer_world import fold, load_world_names


def test_fold_removes_accents_and_upper_cases():
    assert fold("Nguyễn") == "NGUYEN"
    assert fold("O\u2019Brien") == "O'BRIEN"


def test_knows_names_the_us_census_lists_do_not():
    world = load_world_names()
    assert world.locales > 50
    for name in ("Okafor", "Mensah", "Yılmaz", "Kowalski", "Chatterjee", "Tanaka", "Haddad"):
        assert world.is_name(name), name
    assert world.is_first("Amara") and world.is_last("Nguyen")


def test_keeps_only_latin_tokens_of_three_letters_or_more():
    world = load_world_names()
    every = world.first | world.last
    assert all(len(n) >= 3 and n.isupper() and n.isascii() for n in every)
    assert "PORTABLE" not in every and "UPRIGHT" not in every
