"""The two estimators document their shared parameters in the same words.

``MixtureOfExpertsRegressor`` and ``MixtureOfExpertsClassifier`` inherit every
constructor parameter from ``BaseMixtureOfExperts``; ``expert`` differs, and the
regressor adds ``family``. Their
class docstrings' "Parameters" sections must therefore give the same text for every
other parameter (saying inside it where the estimators behave differently), and
document exactly the parameters the estimators take.
"""

import re

import pytest

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe._base import BaseMixtureOfExperts

ESTIMATORS = [MixtureOfExpertsRegressor, MixtureOfExpertsClassifier]
# Documented per estimator: a regressor or a classifier, and what each needs.
OWN_PARAMETERS = {"expert"}

# An entry starts with ``name : type`` (or ``name, other : type``) indented 4.
_ENTRY = re.compile(r"^ {4}(?P<names>[A-Za-z_]\w*(?:, [A-Za-z_]\w*)*) : \S")
# A section header: its name indented 4, then a line of dashes indented 4.
_UNDERLINE = re.compile(r"^ {4}-{3,}\s*$")


def parameter_entries(docstring):
    """The entries of the "Parameters" section, as ``{names: text}``.

    ``names`` is the tuple of the parameters an entry documents (several for
    ``gate_features, expert_features``); ``text`` is the entry's header line and
    its description (the lines indented 8), trailing blank lines removed.
    """
    lines = docstring.splitlines()
    for start, line in enumerate(lines):
        if line.strip() == "Parameters" and _UNDERLINE.match(lines[start + 1]):
            break
    else:
        raise AssertionError("the docstring has no 'Parameters' section")
    entries = {}
    names = None
    for index in range(start + 2, len(lines)):
        line = lines[index]
        if index + 1 < len(lines) and _UNDERLINE.match(lines[index + 1]):
            break  # the next section
        entry = _ENTRY.match(line)
        if entry:
            names = tuple(entry["names"].split(", "))
            assert names not in entries, f"{names} documented twice"
            entries[names] = [line]
        elif line.strip() == "" and names is not None:
            entries[names].append("")
        elif line.startswith(" " * 8) and names is not None:
            entries[names].append(line)
        elif line.strip():
            raise AssertionError(
                f"unexpected line in the 'Parameters' section: {line!r}; an entry "
                "is 'name : type' indented 4, its description indented 8"
            )
    return {key: "\n".join(text).rstrip() for key, text in entries.items()}


def documented_parameters(estimator):
    """``{parameter: (names of its entry, text)}`` of ``estimator``'s docstring."""
    if estimator.__doc__ is None:
        pytest.skip("docstrings are stripped (python -OO)")
    by_parameter = {}
    for names, text in parameter_entries(estimator.__doc__).items():
        for name in names:
            assert name not in by_parameter, (
                f"{estimator.__name__} documents {name!r} in two entries"
            )
            by_parameter[name] = (names, text)
    return by_parameter


def test_parser_reads_entries_of_several_parameters():
    docstring = """Summary.

    Parameters
    ----------
    a : int, default=1
        First line.

        Second paragraph.

    b, c : array-like of shape \
            (n, k), default=None
        Both.

    Returns
    -------
    x : int
        Not a parameter.
    """
    entries = parameter_entries(docstring)
    assert list(entries) == [("a",), ("b", "c")]
    assert entries[("a",)].endswith("First line.\n\n        Second paragraph.")
    assert "Not a parameter" not in entries[("b", "c")]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_every_parameter_is_documented(estimator):
    documented = set(documented_parameters(estimator))
    constrained = set(estimator._parameter_constraints)
    assert set(BaseMixtureOfExperts._parameter_constraints) <= constrained
    params = set(estimator().get_params(deep=False))
    assert params == constrained, (
        f"get_params() and _parameter_constraints disagree: "
        f"{sorted(params ^ constrained)}"
    )
    missing = sorted(params - documented)
    extra = sorted(documented - params)
    assert not missing, f"{estimator.__name__} does not document {missing}"
    assert not extra, f"{estimator.__name__} documents non-parameters {extra}"


def first_difference(a, b):
    """Where texts ``a`` and ``b`` first differ: line number and the two lines."""
    a_lines, b_lines = a.splitlines(), b.splitlines()
    for number in range(max(len(a_lines), len(b_lines))):
        a_line = a_lines[number] if number < len(a_lines) else None
        b_line = b_lines[number] if number < len(b_lines) else None
        if a_line != b_line:
            return number + 1, a_line, b_line
    return None


def test_shared_parameters_read_the_same():
    regressor, classifier = (documented_parameters(e) for e in ESTIMATORS)
    shared = sorted((set(regressor) & set(classifier)) - OWN_PARAMETERS)
    assert shared, "no shared parameter found"
    messages = []
    for name in shared:
        (r_names, r_text), (c_names, c_text) = regressor[name], classifier[name]
        if r_names != c_names:
            messages.append(
                f"{name!r} is documented in different entries: {r_names} in the "
                f"regressor, {c_names} in the classifier"
            )
        elif r_text != c_text:
            line, r_line, c_line = first_difference(r_text, c_text)
            messages.append(
                f"{name!r} is documented differently, first at line {line} of its "
                f"entry:\n  regressor:  {r_line!r}\n  classifier: {c_line!r}"
            )
    assert not messages, "\n".join(messages)
