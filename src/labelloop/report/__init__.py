"""The dataset-health report: one self-contained HTML page per project.

``build_report(proj)`` writes ``DIR/report.html`` with the class distribution, model vs labels,
suspected label errors, outliers, labeling functions, learning curve and cost, annotators,
duplicates and train/test leakage. Sections are builders registered with :func:`register_section`; a section without
data says why it is empty.
"""

from labelloop.report.core import (
    SECTIONS,
    ReportContext,
    Section,
    build_report,
    build_sections,
    figure_png,
    register_section,
    render,
)

__all__ = [
    "SECTIONS",
    "ReportContext",
    "Section",
    "build_report",
    "build_sections",
    "figure_png",
    "register_section",
    "render",
]
