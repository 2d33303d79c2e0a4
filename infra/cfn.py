"""Read template.yaml (CloudFormation short-form tags included) into plain data, and package it the way
`sam package` does: local CodeUri/ContentUri folders zipped to S3, so CloudFormation's SAM transform
(AWS's or LocalStack's) accepts the template as it is."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
# Packaged folders leave these out (build output, caches, local state).
_SKIP_PARTS = {"__pycache__", ".chalice", ".pytest_cache", "node_modules", ".venv"}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads `!Ref X`, `!GetAtt A.B`, `!Sub ...` etc. as their long JSON forms."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def zip_folder(folder: Path, prefix: str = "") -> bytes:
    """A deterministic zip of `folder` (sorted, fixed timestamps), so unchanged code keeps its key."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_dir() or _SKIP_PARTS.intersection(rel.parts) or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(prefix + rel.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def package(template: dict[str, Any], s3: Any, bucket: str, root: Path = ROOT) -> dict[str, Any]:
    """Upload local code folders to `bucket` and point the template at them (like `sam package`).
    The layer is zipped under python/, where Lambda puts layer packages on sys.path."""
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function":
            field, prefix = "CodeUri", ""
        elif kind == "AWS::Serverless::LayerVersion":
            field, prefix = "ContentUri", "python/"
        else:
            continue
        uri = props.get(field)
        if not isinstance(uri, str) or uri.startswith("s3://"):
            continue
        data = zip_folder(root / uri, prefix)
        key = f"packages/{hashlib.sha256(data).hexdigest()}.zip"
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        props[field] = f"s3://{bucket}/{key}"
    return template
