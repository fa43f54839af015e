"""Sphinx configuration for skmoe's documentation.

Build from the repository root (``pip install ".[docs]"`` first)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

``-W`` turns every warning into an error. The example gallery is built from
``examples/`` and every example is executed.
"""

import importlib
import inspect
import os
import re
import sys
from pathlib import Path

import skmoe

DOCS = Path(__file__).resolve().parent
# gallery_order.py, the examples' order.
sys.path.insert(0, str(DOCS))

# Plots are drawn off screen; set before anything imports pyplot.
os.environ.setdefault("MPLBACKEND", "Agg")

project = "skmoe"
author = "the skmoe developers"
copyright = "the skmoe developers"
release = skmoe.__version__
version = re.match(r"\d+\.\d+", release).group(0)

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
root_doc = "index"
# The page contents list methods as "fit", not "MixtureOfExpertsRegressor.fit".
toc_object_entries_show_parents = "hide"
default_role = "literal"

# ---- API reference

autosummary_generate = True
# numpydoc writes the members' table of each class; autosummary must not repeat it.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Check every public docstring against numpydoc's rules that skmoe follows:
# GL08, the object has a docstring; PR01/PR02, every parameter is documented and
# no documented parameter is missing; RT01, a Returns section when something is
# returned. A failure is a warning, hence an error under -W.
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "RT01"}
numpydoc_validation_exclude = {
    # Inherited from scikit-learn: documented there, in scikit-learn's words.
    r"\.get_metadata_routing$",
    r"\.get_params$",
    r"\.set_params$",
    r"\.set_fit_request$",
    r"\.set_score_request$",
    r"\.set_callbacks$",
    r"\.__sklearn_tags__$",
    r"\.score$",
    # Dataclass-generated methods of the summary records.
    r"\.__init__$",
    # A family's overrides keep the contract Family documents; autodoc shows
    # Family's docstring for them.
    r"^skmoe\.families\.(Gaussian|StudentT|Poisson|NegativeBinomial|Gamma"
    r"|Categorical)\.[a-z]",
}

# ---- Example gallery

sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    # Execute the plot_* examples and the quickstart, which the README runs too.
    "filename_pattern": r"/(plot_[^/]*|quickstart)\.py$",
    "download_all_examples": False,
    "remove_config_comments": True,
    # A dotted name, not the function itself, so that Sphinx can pickle the config.
    "within_subsection_order": "gallery_order.example_order",
    # Fail the build if an example raises.
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "reference_url": {"skmoe": None},
    "doc_module": ("skmoe",),
    "backreferences_dir": str(DOCS / "_gen" / "backreferences"),
    "show_memory": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    # Each example starts from the same state: a fresh matplotlib and no
    # leftover figures.
    "reset_modules": ("matplotlib",),
}

# ---- HTML

html_theme = "pydata_sphinx_theme"
html_title = f"skmoe {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
    # The flexmix page is mostly wide tables and the examples are code of up to 88
    # columns: give them the page's full width.
    "secondary_sidebar_items": {
        "user_guide/flexmix_comparison": [],
        "auto_examples/*": [],
    },
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": [], "api": [], "changelog": []}
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# ---- The user guide's table of contents
#
# The order of the user guide, including pages that other branches add: a page is
# listed only if its file exists, so a slot for a page not written yet costs no
# warning, and a page in docs/user_guide/ that is not named here is appended at the
# end rather than left out of every toctree (which -W would refuse).
USER_GUIDE_ORDER = [
    "model",  # what a mixture of experts is
    "families",  # how y scatters around each expert: Gaussian, t, counts, Gamma
    "expert_list",  # experts of different kinds, one each
    "hierarchy",  # mixtures as experts: trees of gates
    "dense_vs_moe",  # when it beats a single model
    "core",  # fitting by EM, parameter by parameter
    "training",  # EM / CEM / gradient, partial_fit (slot)
    "routing",
    "inspection",
    "inference",  # standard errors, the bootstrap
    "predictive",  # quantiles, intervals, samples; the classifier's uncertainty
    "model_selection",  # choosing the number of experts (slot)
    "scaling",  # n_jobs and Dask (slot)
    "performance",
    "reliability",  # (slot)
    "flexmix_comparison",
]
_USER_GUIDE_TOCTREE = ".. skmoe-user-guide-toctree::"


def _user_guide_pages():
    present = {p.stem for p in (DOCS / "user_guide").glob("*.rst")} - {"index"}
    ordered = [page for page in USER_GUIDE_ORDER if page in present]
    return ordered + sorted(present - set(ordered))


def _insert_user_guide_toctree(app, docname, source):
    if docname != "user_guide/index":
        return
    entries = "\n".join(f"   {page}" for page in _user_guide_pages())
    toctree = f".. toctree::\n   :maxdepth: 2\n\n{entries}\n"
    source[0] = source[0].replace(_USER_GUIDE_TOCTREE, toctree)


def _reread_user_guide_index(app, env, added, changed, removed):
    # Pages added or removed change the generated toctree.
    return ["user_guide/index"] if added or removed else []


# ---- Every public name is in the API reference
#
# The public names are the __all__ of skmoe and of its public modules (or, for a
# module without __all__, the functions and classes it defines). A name missing
# from api.rst is a warning, so -W fails the build until it is documented.
PUBLIC_MODULES = [
    "skmoe",
    "skmoe.datasets",
    "skmoe.exceptions",
    "skmoe.inspection",
    "skmoe.model_selection",
]


def _public_names(module_name):
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return []
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, obj in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module_name
        ]
    return [f"{module_name}.{name}" for name in names if not name.startswith("__")]


def _check_api_reference(app):
    from sphinx.util import logging

    api = (DOCS / "api.rst").read_text()
    current = None
    listed = set()
    for line in api.splitlines():
        match = re.match(r"\s*\.\. currentmodule:: (\S+)", line)
        if match:
            current = match.group(1)
            continue
        match = re.match(r"\s{3,}(~?[\w.]+)\s*$", line)
        if match and current is not None:
            listed.add(f"{current}.{match.group(1).lstrip('~')}")
    missing = [
        name
        for module in PUBLIC_MODULES
        for name in _public_names(module)
        if name not in listed
    ]
    if missing:
        logging.getLogger("skmoe.docs").warning(
            "public names missing from docs/api.rst: %s", ", ".join(missing)
        )


# Attribute types such as ``ndarray of shape (n_iter_,)`` read, in reST, as a
# reference to a target ``n_iter``, an error. The docstrings of the estimators write
# them so (skmoe/_regression.py and skmoe/_classification.py: ``n_iter_`` and
# ``n_features_in_``); quote such names as literals until the docstrings do.
_TRAILING_UNDERSCORE_NAME = re.compile(r"(?<![`\w])([a-z][a-z0-9_]*[a-z0-9]_)(?=,\))")


def _quote_attribute_names_in_shapes(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "shape (" in line:
            lines[i] = _TRAILING_UNDERSCORE_NAME.sub(r"``\1``", line)


# The estimators inherit methods from scikit-learn (score, get_metadata_routing,
# set_fit_request, ...) whose docstrings refer to labels of scikit-learn's own
# documentation. Without network access there is no intersphinx inventory, so these
# few references are pointed at scikit-learn's pages directly.
SKLEARN_REFERENCES = {
    "metadata_routing": "metadata_routing.html",
    "r2_score": "modules/model_evaluation.html#r2-score",
    "accuracy_score": "modules/model_evaluation.html#accuracy-score",
    "meta-estimator": "glossary.html#term-meta-estimator",
}


def _resolve_sklearn_reference(app, env, node, contnode):
    from docutils import nodes

    target = node.get("reftarget", "")
    if node.get("refdomain") != "std" or target not in SKLEARN_REFERENCES:
        return None
    url = "https://scikit-learn.org/stable/" + SKLEARN_REFERENCES[target]
    text = contnode.astext() if contnode is not None else target
    if text == target and target in ("r2_score", "accuracy_score"):
        text = target.replace("_", " ")
    return nodes.reference(text, text, refuri=url, internal=False)


def setup(app):
    app.connect("missing-reference", _resolve_sklearn_reference)
    # Before numpydoc (priority 500) parses the docstring.
    app.connect(
        "autodoc-process-docstring", _quote_attribute_names_in_shapes, priority=400
    )
    app.connect("source-read", _insert_user_guide_toctree)
    app.connect("env-get-outdated", _reread_user_guide_index)
    app.connect("builder-inited", _check_api_reference)
