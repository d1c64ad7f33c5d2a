"""S3 listings for replay, on moto's S3: what a prefix lists is what a directory walk
of the same tree reads."""

from __future__ import annotations

import anyio

from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.replay.archive_s3 import S3Reader
from sesd.config import parse_config
from tests.conftest import aws_client

#: An archive synced from a Mac, or from a checkout, with a writer's temporary keys.
KEYS = [
    "events/2027/01/15/08/part-1.gz",
    "events/2027/01/15/09/part-2.gz",
    "events/.DS_Store",
    "events/2027/01/15/08/.part-3.gz.swp",
    "events/2027/.tmp/part-4.gz",
    ".git/config",
]
READ = ["events/2027/01/15/08/part-1.gz", "events/2027/01/15/09/part-2.gz"]


async def test_a_prefix_lists_no_hidden_keys_but_a_key_named_is_read(
    local_sqs: LocalSqs,
) -> None:
    """Keys with a name starting with '.' below the prefix (`.DS_Store`, an editor's
    swap file, a `.tmp/` "directory") are left out of a prefix's listing, with or
    without its trailing slash, and of the bucket's, as a directory walk leaves out
    such files and directories; a key named exactly, or a hidden "directory" named as
    the prefix, is listed, as a file or directory named on the command line is read."""
    async with aws_client("s3", local_sqs) as s3:
        await s3.create_bucket(Bucket="archive")
        for key in KEYS:
            await s3.put_object(Bucket="archive", Key=key, Body=b"x")
    config = parse_config(
        f'[aws]\nendpoint_url = "{local_sqs.url}"\naccess_key_id = "testing"\n'
        'secret_access_key = "testing"\n'
    )

    def listings(*urls: str) -> list[list[str]]:
        with S3Reader(config) as reader:
            return [[name for name, _ in reader.objects(url)] for url in urls]

    everything, prefix, bare, named, hidden_dir, partial = await anyio.to_thread.run_sync(
        listings,
        "s3://archive",
        "s3://archive/events/",
        "s3://archive/events",
        "s3://archive/events/.DS_Store",
        "s3://archive/events/2027/.tmp/",
        "s3://archive/events/2027/.tm",
    )
    read = [f"s3://archive/{key}" for key in READ]
    assert everything == read
    assert prefix == read
    assert bare == read
    assert named == ["s3://archive/events/.DS_Store"]
    assert hidden_dir == ["s3://archive/events/2027/.tmp/part-4.gz"]
    # The dot typed as part of the prefix: asked for, as a glob `.tm*` would be.
    assert partial == ["s3://archive/events/2027/.tmp/part-4.gz"]
