"""The study report: PNG files plus one HTML page embedding them, for a real small study."""

import base64
import re

import optuna
from matplotlib.image import imread

from tuner.plots import FIGURES
from tuner.report import CAPTIONS, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_write_report_writes_every_figure_as_valid_png_and_embeds_it(tracked_search, tmp_path):
    page = write_report(tracked_search.study, tmp_path / "out", title="Tiny grid")
    assert page == tmp_path / "out" / "report.html"
    html = page.read_text(encoding="utf-8")
    for name in FIGURES:
        png = (tmp_path / "out" / f"{name}.png").read_bytes()
        assert png[:8] == PNG_MAGIC and len(png) > 1000
        height, width, _ = imread(tmp_path / "out" / f"{name}.png").shape  # decodes fully
        assert 500 <= width <= 1600 and 250 <= height <= 1200, (name, width, height)
        assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in html
        assert f'href="{name}.png"' in html
        assert f'<figure id="{name}">' in html and CAPTIONS[name][:40] in html
    assert "<title>Tiny grid</title>" in html
    assert "Not drawn" not in html


def test_write_report_summary_and_trial_table_come_from_the_study(tracked_search, tmp_path):
    html = write_report(tracked_search.study, tmp_path).read_text(encoding="utf-8")
    assert "<title>Study tiny-grid</title>" in html
    assert "4 (2 complete, 1 pruned, 1 fail)" in html
    states = re.findall(r'<span class="(complete|pruned|fail)">', html)
    assert states == ["complete", "complete", "pruned", "fail"]
    best = tracked_search.search.best_params_["learning_rate_init"]
    assert f"<td>best learning_rate_init</td><td>{best:.4g}</td>" in html


def test_write_report_empty_study_lists_figures_not_drawn(tmp_path):
    study = optuna.create_study(study_name="empty")
    html = write_report(study, tmp_path, title="<b>x</b>").read_text(encoding="utf-8")
    assert "<title>&lt;b&gt;x&lt;/b&gt;</title>" in html  # the title is escaped
    assert "Not drawn (not enough data): " + ", ".join(FIGURES) in html
    assert list(tmp_path.glob("*.png")) == []
