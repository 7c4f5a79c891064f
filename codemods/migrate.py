"""The whole migration as one LibCST codemod command, for LibCST's own runner:

    python -m libcst.tool codemod migrate.Migrate PATH

(`.libcst.codemod.yaml` lists `codemods`; in your own project, a `.libcst.codemod.yaml` with
`modules: ['codemods']` and `formatter: ['cat']`, or `--no-format`, with tinyckpt installed). LibCST's runner hands each file over on its own, so
the file is migrated as `tinyckpt-migrate` migrates a file run alone: with the project's
configuration (found from the file, as the CLI finds it) but no cross-file facts, so whatever
crosses a file boundary is left manual, and nothing is deleted. `tinyckpt-migrate diff/apply` is
the whole-tree migration (and much faster).
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
from libcst.codemod import CodemodCommand, SkipFile

from codemods.config import ConfigError, find_config
from codemods.engine import migrate_source


class Migrate(CodemodCommand):
    DESCRIPTION = "tinyckpt-migrate, one file at a time: the legacy policy store API -> tinyckpt (see docs/migration.md)."

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        path = self.context.filename or "<string>"
        try:
            config = find_config(Path(path).resolve().parent)
        except ConfigError as exc:
            raise SkipFile(f"configuration: {exc}") from None
        source = tree.code
        result = migrate_source(source, path, config=config, module_name=self.context.full_module_name,
                                package_name=self.context.full_package_name)
        if result.error:
            raise SkipFile(result.error)
        for site in result.sites:
            if site.outcome == "manual":
                self.warn(f"{site.line}: {site.rule}: {site.message}")
        if result.new_source == source:
            raise SkipFile("nothing to migrate")
        return cst.parse_module(result.new_source)
