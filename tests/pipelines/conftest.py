"""Fixtures of the pipelines tests: the small dataset of :mod:`tests.pipelines.small_dataset`, one
moto S3 server and one two-node Ray cluster, each started at most once per session (and only
when a test asks for it)."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import pytest

from pipelines.build.plan import BuildOptions
from pipelines.synthesize.command import synthesize
from tests.pipelines.small_dataset import config, make_inputs


@pytest.fixture(scope="session")
def inputs(tmp_path_factory, photos) -> Path:
    return make_inputs(tmp_path_factory.mktemp("tools") / "photos", photos)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory, inputs) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    synthesize(config(), BuildOptions(out=root / "data", manifests=root / "manifests"), input=inputs)
    return root


BUCKET = "datasets"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_env() -> dict[str, str]:
    """A moto S3 server on 127.0.0.1 (a free port, dummy credentials) with the bucket ``datasets``;
    yields the environment that points botocore and fsspec at it (set for the session)."""
    pytest.importorskip("s3fs", reason="object-storage tests need s3fs (pip install -e '.[dev]')")
    moto_server = pytest.importorskip("moto.server", reason="object-storage tests need moto[server]")
    import fsspec
    import s3fs

    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": endpoint, "FSSPEC_S3_ENDPOINT_URL": endpoint}
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    mp.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint, "key": "testing", "secret": "testing"})
    s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing", skip_instance_cache=True).mkdir(BUCKET)
    try:
        yield env
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        mp.undo()
        server.stop()


@pytest.fixture
def s3(s3_env):
    """An s3fs filesystem on the session's moto server (fresh listings for each test)."""
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=s3_env["AWS_ENDPOINT_URL"], key="testing", secret="testing",
                           skip_instance_cache=True)
    fs.invalidate_cache()
    return fs


@pytest.fixture(scope="session")
def ray_address(request):
    """A real two-node Ray cluster (head + worker, one CPU each, on 127.0.0.1) for the session.

    It is started after the moto server (when s3fs and moto are installed), so its workers
    inherit the environment that points them at it, as a real cluster's nodes carry their own
    store settings."""
    with contextlib.suppress(pytest.skip.Exception):
        request.getfixturevalue("s3_env")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a local cluster binds 127.0.0.1
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 80 * 1024 * 1024}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    cluster.add_node(**node)
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        yield cluster.address
    finally:
        ray.shutdown()
        cluster.shutdown()
