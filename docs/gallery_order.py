"""The order of the examples in the gallery: from a first look to special topics."""

ORDER = [
    "quickstart.py",
    "plot_piecewise_regression.py",
    "plot_classification_regimes.py",
    "plot_dense_vs_moe.py",
    "plot_grid_search_n_experts.py",
    "plot_gate_assignments_real_data.py",
    "plot_inference.py",
    "plot_heterogeneous_features.py",
    "plot_expert_list.py",
    "plot_hierarchy.py",
    "plot_count_regression.py",
    "plot_robust_student_t.py",
    "plot_custom_family.py",
    "plot_topk_routing_speedup.py",
    "plot_streaming_partial_fit.py",
]


def example_order(filename):
    """Sort key: the examples named in ORDER first, in its order; others by name."""
    if filename in ORDER:
        return (0, ORDER.index(filename), filename)
    return (1, 0, filename)
