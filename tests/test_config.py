"""The YAML job: one table of keys, checked before any data is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamgd.config import (
    FIELD_BY_PATH, FIELDS, Config, default_tree, load_config, make_config,
    parse_override,
)
from streamgd.errors import ConfigError

JOB = """\
data:
  paths: flights.csv
  features: [dep_delay, distance]
  target: arr_delay
"""


def _job(**sections: dict) -> dict:
    """A minimal valid job as a mapping, with the given sections merged over it."""
    job = {"data": {"paths": "x.csv", "features": ["a", "b"], "target": "y"}}
    for name, values in sections.items():
        job[name] = {**job.get(name, {}), **values}
    return job


def _write(tmp_path: Path, text: str, name: str = "job.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_config_valid_job_fills_every_default(tmp_path):
    """A job with only its data section gets every other key's default."""
    config = load_config(_write(tmp_path, JOB))

    assert isinstance(config, Config)
    assert config["optimizer.learning_rate"] == FIELD_BY_PATH[
        "optimizer.learning_rate"].default
    assert config["data.csv.block_size"] == 2 << 20
    assert config["data.features"] == ["dep_delay", "distance"]


def test_config_unknown_key_names_it_and_the_closest_key():
    """A misspelt key is named with the valid key it most resembles."""
    job = _job(optimizer={"learnig_rate": 0.1})
    with pytest.raises(ConfigError, match=r"unknown key 'optimizer\.learnig_rate';"
                       r" did you mean 'optimizer\.learning_rate'\?"):
        make_config(job)


def test_config_unknown_section_names_the_closest_section():
    """A misspelt section is named with the section it most resembles."""
    job = _job(optimiser={"learning_rate": 0.1})
    with pytest.raises(ConfigError, match=r"'optimiser'; did you mean 'optimizer'"):
        make_config(job)


def test_config_wrong_type_names_key_and_type():
    """A string where an integer belongs names the key, the type and the value."""
    job = _job(optimizer={"batch_size": "big"})
    with pytest.raises(ConfigError,
                       match=r"optimizer\.batch_size must be int, got str 'big'"):
        make_config(job)


@pytest.mark.parametrize("key", ["optimizer.batch_size", "optimizer.learning_rate"])
def test_config_true_is_not_a_number(key):
    """A YAML `true` is refused where an integer or a number belongs."""
    section, leaf = key.split(".")
    with pytest.raises(ConfigError, match=rf"{section}\.{leaf} must be .*got bool"):
        make_config(_job(**{section: {leaf: True}}))


@pytest.mark.parametrize("rate", [0, -0.5])
def test_config_learning_rate_must_be_positive(rate):
    """A learning rate of 0 or below names optimizer.learning_rate."""
    with pytest.raises(ConfigError, match=r"optimizer\.learning_rate must be > 0"):
        make_config(_job(optimizer={"learning_rate": rate}))


NUMBER_KEYS = [field.path for field in FIELDS if field.kind == (int, float)]


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan"])
@pytest.mark.parametrize("key", NUMBER_KEYS)
def test_config_non_finite_number_is_refused(key, text):
    """YAML's .inf, -.inf and .nan are refused for every numeric key, named."""
    with pytest.raises(ConfigError, match=rf"^{key} must be a finite number, got"):
        make_config(_job(), [f"{key}={text}"])


def test_config_infinite_learning_rate_in_yaml_file_is_refused(tmp_path):
    """Regression: `learning_rate: .inf` in a job file was accepted."""
    path = _write(tmp_path, JOB + "optimizer:\n  learning_rate: .inf\n")
    with pytest.raises(ConfigError, match=r"learning_rate must be a finite number"):
        load_config(path)


def test_config_choice_outside_the_allowed_values_lists_them():
    """A value outside a key's choices lists the allowed ones."""
    with pytest.raises(ConfigError,
                       match=r"data\.missing must be one of error, drop, impute"):
        make_config(_job(data={"missing": "ignore"}))


def test_config_target_in_features_is_refused():
    """The target cannot also be a feature."""
    job = _job(data={"features": ["a", "y"]})
    with pytest.raises(ConfigError,
                       match=r"data\.target 'y' is also listed in data\.features"):
        make_config(job)


def test_config_weight_in_features_is_refused():
    """The sample weight cannot also be a feature."""
    job = _job(data={"weight": "a"})
    with pytest.raises(ConfigError,
                       match=r"data\.weight 'a' is also listed in data\.features"):
        make_config(job)


def test_config_weight_equal_to_target_is_refused():
    """The sample weight cannot be the target column."""
    job = _job(data={"weight": "y"})
    with pytest.raises(ConfigError, match=r"data\.weight 'y' is also data\.target"):
        make_config(job)


def test_config_repeated_feature_is_refused():
    """A feature listed twice is named."""
    job = _job(data={"features": ["a", "b", "a"]})
    with pytest.raises(ConfigError, match=r"data\.features lists \['a'\] more"):
        make_config(job)


@pytest.mark.parametrize("key", ["data.paths", "data.features", "data.target"])
def test_config_missing_required_key_is_named(key):
    """A job without its data, features or target names the key it lacks."""
    job = _job()
    del job["data"][key.split(".")[1]]
    with pytest.raises(ConfigError, match=rf"{key} is required"):
        make_config(job)


def test_config_paths_must_be_strings():
    """A data path that is not a string is refused before any file is looked at."""
    with pytest.raises(ConfigError, match=r"data\.paths must be a list of strings"):
        make_config(_job(data={"paths": ["x.csv", 3]}))


def test_config_seed_must_not_be_negative():
    """A negative seed, which numpy's generator refuses, is refused up front."""
    with pytest.raises(ConfigError, match=r"seed must be >= 0, got -1"):
        make_config({**_job(), "seed": -1})


def test_config_header_false_needs_column_names():
    """A CSV without a header needs its column names."""
    with pytest.raises(ConfigError, match=r"give data\.csv\.column_names"):
        make_config(_job(data={"csv": {"header": False}}))


def test_config_single_string_becomes_a_list():
    """A single feature or null marker given as a string is read as a list of one."""
    config = make_config(_job(data={"features": "a", "csv": {"null_values": "-"}}))
    assert config["data.features"] == ["a"]
    assert config["data.csv.null_values"] == ["-"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("optimizer.learning_rate=0.5", ("optimizer.learning_rate", 0.5)),
        ("optimizer.batch_size=64", ("optimizer.batch_size", 64)),
        ("shuffle.enabled=false", ("shuffle.enabled", False)),
        ("data.features=[a, b]", ("data.features", ["a", "b"])),
        ("output.dir=runs/a=b", ("output.dir", "runs/a=b")),
        (" seed = 3", ("seed", 3)),
    ],
)
def test_config_override_value_is_parsed_as_yaml(text, expected):
    """`key=value` splits at the first `=` and reads the value as YAML."""
    assert parse_override(text) == expected


@pytest.mark.parametrize("text", ["optimizer.learning_rate", "=3", " =3"])
def test_config_override_without_key_or_value_is_refused(text):
    """An override without `=` or without a key says how one looks."""
    with pytest.raises(ConfigError, match=r"must look like key\.sub=value"):
        parse_override(text)


def test_config_override_of_unknown_key_suggests_one():
    """An override naming an unknown key suggests the closest valid key."""
    with pytest.raises(ConfigError, match=r"did you mean 'optimizer\.batch_size'"):
        parse_override("optimizer.batchsize=3")


def test_config_override_with_invalid_yaml_is_refused():
    """An override whose value is not YAML is named."""
    with pytest.raises(ConfigError, match=r"override 'seed=\[1': value is not YAML"):
        parse_override("seed=[1")


def test_config_override_is_validated(tmp_path):
    """An override is applied over the file and checked like the file."""
    path = _write(tmp_path, JOB)
    config = load_config(path, ["optimizer.batch_size=8"])
    assert config["optimizer.batch_size"] == 8
    with pytest.raises(ConfigError, match=r"optimizer\.batch_size must be > 0"):
        load_config(path, ["optimizer.batch_size=0"])


def test_config_relative_paths_resolve_against_the_job_folder(tmp_path, monkeypatch):
    """Relative data paths, globs and the output folder are taken from the YAML
    file's folder, whatever the working directory."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    path = _write(folder, JOB + "  cache_dir: cache\n")
    path.write_text(path.read_text().replace(
        "paths: flights.csv", "paths: [flights.csv, 'parts/*.csv', /abs/x.csv]"))
    monkeypatch.chdir(tmp_path)

    config = load_config(Path("jobs/job.yaml"))
    assert config["data.paths"] == [
        str(folder / "flights.csv"), str(folder / "parts/*.csv"), "/abs/x.csv"
    ]
    assert config["output.dir"] == str(folder / "streamgd-out")
    assert config["data.cache_dir"] == str(folder / "cache")


def test_config_missing_job_file_is_named(tmp_path):
    """A job file that does not exist is named in the error."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"job file .*nope\.yaml does not exist"):
        load_config(path)


def test_config_invalid_yaml_is_named(tmp_path):
    """A job file that is not YAML is named."""
    path = _write(tmp_path, "data: [unclosed\n")
    with pytest.raises(ConfigError,
                       match=r"job\.yaml, line \d+, column \d+: not valid YAML"):
        load_config(path)


def test_config_job_must_be_a_mapping(tmp_path):
    """A YAML list or scalar is not a job."""
    path = _write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match=r"must be a mapping of sections"):
        load_config(path)


def test_config_section_must_be_a_mapping():
    """A section given as a scalar is named."""
    with pytest.raises(ConfigError, match=r"^optimizer must be a mapping"):
        make_config({**_job(), "optimizer": 3})


def test_config_embedded_default_loads():
    """load_config(None) gives the shipped flights job, its data file present."""
    config = load_config(None)

    assert config["data.target"] == "arr_delay"
    (path,) = config["data.paths"]
    assert Path(path).name == "flights.parquet" and Path(path).is_file()


def test_config_replace_validates_the_new_value():
    """Config.replace returns a checked copy and leaves the original alone."""
    config = make_config(_job())
    assert config.replace(seed=5)["seed"] == 5
    assert config["seed"] == 0
    with pytest.raises(ConfigError, match=r"optimizer\.max_epochs must be > 0"):
        config.replace(**{"optimizer.max_epochs": 0})


def test_config_every_default_passes_its_own_field_check():
    """The declared defaults are valid values of their own fields."""
    tree = default_tree()
    for field in FIELDS:
        value = Config(tree)[field.path]
        if value is not None and field.check is not None:
            assert field.check(value) is None, field.path
