"""Where the documentation lives: the link in the estimators' HTML display.

scikit-learn's HTML repr shows a "?" that links to an estimator's API page when
the class says where its docs are (the ``_doc_link_*`` hooks of ``BaseEstimator``).
The pages are Sphinx autosummary's, ``generated/skmoe.<Name>.html`` (docs/api.rst);
the root is the project's ``Documentation`` URL in ``pyproject.toml``.
"""

DOCUMENTATION_ROOT = "https://skmoe.readthedocs.io/en/latest/"


class DocLinkMixin:
    """Link the HTML repr of a public skmoe estimator to its API page."""

    _doc_link_module = "skmoe"
    _doc_link_template = (
        DOCUMENTATION_ROOT + "generated/{estimator_module}.{estimator_name}.html"
    )
