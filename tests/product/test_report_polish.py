"""The HTML page says what each plotted curve is, per method, and hides settings a method does not read."""

import re

import pytest

from fusiondp.report.html import render_html, training_curves

HISTORY = [{"epoch": e, "step": 10 * e, "epsilon": 0.5 * e, "public_loss": 0.6 - 0.05 * e,
            "val": {"auroc": 0.7 + 0.01 * e, "accuracy": 0.8}} for e in (1, 2, 3)]
CONFIG = {"epochs": 3.0, "batch_size": 32, "public_batch_size": 64, "lr": 0.1, "alpha": 3.0, "beta": 0.5,
          "radius": 10.0, "seed": 0}


def _report(method, *, loss=True, private=True):
    hist = [dict(h, public_loss=h["public_loss"] if loss else None) for h in HISTORY]
    rep = {"method": method, "history": hist, "config": CONFIG, "metrics": {}, "schema": {"sensitive": ["age"]}}
    if private:
        rep.update(neighbouring="add_remove" if method == "dpsgd" else "remove", epsilon=1.5, delta=1e-5,
                   target_epsilon=1.5)
    return rep


def _captions(page):
    return re.findall(r"<figcaption class='sub'>(.*?)</figcaption>", page)


def test_sgd_ori_curve_is_labelled_as_original_rows():
    page = render_html(_report("sgd_ori", private=False))
    caption = _captions(page)[0]
    assert "original rows" in caption and "hybrid" not in caption


def test_dpsgd_caption_describes_only_what_is_plotted():
    page = render_html(_report("dpsgd", loss=False))
    caption = _captions(page)[0]
    assert "no loss is logged" in caption and "Blue" not in caption and "AUROC" in caption


def test_fusiondp_curve_is_the_hybrid_public_loss():
    caption = _captions(render_html(_report("fusiondp")))[0]
    assert caption.startswith("Blue: the loss of the noise-free gradient on hybrid") and "AUROC" in caption


@pytest.mark.parametrize("method,loss", [("fusiondp", True), ("dpsgd", False), ("sgd_ori", True)])
def test_legend_covers_neither_the_epoch_label_nor_the_axes(method, loss):
    fig, _ = training_curves(_report(method, loss=loss, private=method != "sgd_ori"))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        assert not legend.overlaps(ax.xaxis.label.get_window_extent(renderer))
        assert not legend.overlaps(ax.get_window_extent(renderer))


@pytest.mark.parametrize("method,hidden,shown", [
    ("sgd_ori", {"alpha", "beta"}, {"public_batch_size", "lr"}),
    ("dpsgd", {"alpha", "beta", "public_batch_size"}, {"batch_size", "lr"}),
    ("fdp_fm", {"beta"}, {"alpha", "public_batch_size"}),
    ("naive_fusion", {"alpha"}, {"beta"}),
    ("fusiondp", set(), {"alpha", "beta", "public_batch_size"}),
])
def test_settings_show_only_what_the_method_reads(method, hidden, shown):
    page = render_html(_report(method, private=method != "sgd_ori"))
    settings = page.split("<h2>Settings</h2>", 1)[1]
    for key in hidden:
        assert f"<td>{key}</td>" not in settings, key
    for key in shown:
        assert f"<td>{key}</td>" in settings, key
    assert "<td>3</td>" in settings  # whole floats without decimals (epochs)


def test_imputation_section_reads_well():
    rep = _report("fusiondp") | {"imputation_quality": {"measured_on": "the validation split (held out)",
                                                        "columns": {"age": {"metric": "r2", "value": 0.5}}}}
    page = render_html(rep)
    assert "))" not in page.split("Imputation quality", 1)[1].split("</p>", 1)[0]
    assert "Measured on: the validation split (held out)." in page
