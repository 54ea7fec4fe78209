"""The console's namespace files page: browse a namespace's files by directory, download, upload,
edit text files in the browser, delete.

It hangs off the namespace admin (`accounts.admin.NamespaceAdmin`, registered again here with
these pages, as accounts sit below files): a namespace the caller cannot read is answered like
a missing one, viewers read, editors write. Every read and write goes through
`files.selectors` and `files.services`, which check the role again.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from accounts.admin import NamespaceAdmin
from accounts.models import Namespace
from accounts.roles import Role, at_least
from accounts.selectors import role_in
from core.errors import BadRequest, MillraceError
from core.storage import Entry, max_bytes
from files import selectors, services
from files.responses import file_response

#: Files larger than this are downloaded, not edited in a textarea.
EDIT_MAX_BYTES = 1024 * 1024


class UploadForm(forms.Form):
    file = forms.FileField(help_text="Stored in this directory under its own name; a file of that name is replaced.")
    name = forms.CharField(
        required=False,
        help_text="Another name for it (optional). '/' makes directories: 'lib/util.py'.",
    )


class EditForm(forms.Form):
    content = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 30, "cols": 100, "spellcheck": "false", "class": "mr-file-text"}),
        help_text="Saved as UTF-8 text; line ends become '\\n'.",
    )


@dataclass(frozen=True)
class Row:
    """One line of the listing: an entry and its path from the namespace's file root."""

    entry: Entry
    path: str


def _query(**params: str) -> str:
    return "?" + urlencode(params)


def _parent(path: str) -> str:
    return posixpath.dirname(path.strip("/"))


class NamespaceFilesMixin:
    """URLs and views of the namespace files pages; mixed into the namespace admin."""

    def get_urls(self) -> list[URLPattern]:
        wrap, prefix = self.admin_site.admin_view, f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/files/", wrap(self.files_view), name=f"{prefix}_files"),
            path("<path:object_id>/files/download/", wrap(self.file_download_view), name=f"{prefix}_file_download"),
            path(
                "<path:object_id>/files/upload/",
                wrap(require_POST(self.file_upload_view)),
                name=f"{prefix}_file_upload",
            ),
            path("<path:object_id>/files/edit/", wrap(self.file_edit_view), name=f"{prefix}_file_edit"),
            path("<path:object_id>/files/delete/", wrap(self.file_delete_view), name=f"{prefix}_file_delete"),
            *super().get_urls(),
        ]

    # --- helpers ----------------------------------------------------------------------------

    def _namespace(self, request: HttpRequest, object_id: str) -> Namespace | None:
        namespace = self.get_object(request, unquote(object_id))
        if namespace is not None and not self.has_view_permission(request, namespace):
            raise PermissionDenied
        return namespace

    def _missing(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)

    @staticmethod
    def _can_edit(request: HttpRequest, namespace: Namespace) -> bool:
        """The editor role in the namespace, the rule `files.services` applies."""
        return at_least(role_in(request.user, namespace), Role.EDITOR)

    def _listing_url(self, namespace: Namespace, directory: str = "") -> str:
        url = reverse("admin:accounts_namespace_files", args=[namespace.pk])
        return url + _query(path=directory) if directory else url

    def _context(self, request: HttpRequest, namespace: Namespace, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": namespace,
            "namespace": namespace,
            "title": title,
            "has_view_permission": True,
            "can_edit": self._can_edit(request, namespace),
            "max_file_bytes": filesizeformat(max_bytes()),
            **extra,
        }

    @staticmethod
    def _crumbs(directory: str) -> list[tuple[str, str]]:
        """(name, path) of each directory from the root to `directory`."""
        parts = directory.split("/") if directory else []
        return [(part, "/".join(parts[: index + 1])) for index, part in enumerate(parts)]

    # --- pages -------------------------------------------------------------------------------

    def files_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """`?path=<directory>`: its directories and files, with the forms an editor writes through."""
        namespace = self._namespace(request, object_id)
        if namespace is None:
            return self._missing(request, object_id)
        try:
            directory = selectors.clean_directory(request.GET.get("path"))
            entries = selectors.namespace_file_listing(account=request.user, namespace=namespace, path=directory)
        except MillraceError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(self._listing_url(namespace))
        rows = [Row(entry, f"{directory}/{entry.name}" if directory else entry.name) for entry in entries]
        context = self._context(
            request,
            namespace,
            f"Files of {namespace.name}",
            directory=directory,
            parent=_parent(directory) if directory else None,
            crumbs=self._crumbs(directory),
            rows=rows,
            upload_form=UploadForm(),
            new_path=f"{directory}/" if directory else "",
        )
        return TemplateResponse(request, "admin/files/namespace_files.html", context)

    def file_download_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        namespace = self._namespace(request, object_id)
        if namespace is None:
            return self._missing(request, object_id)
        try:
            name, handle = selectors.namespace_file_open(
                account=request.user, namespace=namespace, path=request.GET.get("path", "")
            )
        except MillraceError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(self._listing_url(namespace))
        return file_response(name, handle)

    def file_upload_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST (multipart): store the file in `?path=<directory>`, under its own name or the one given."""
        namespace = self._namespace(request, object_id)
        if namespace is None:
            return self._missing(request, object_id)
        if not self._can_edit(request, namespace):
            raise PermissionDenied
        directory = request.GET.get("path", "")
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, "The file was not stored: choose a file to upload.")
            return HttpResponseRedirect(self._listing_url(namespace, directory))
        upload = form.cleaned_data["file"]
        name = form.cleaned_data["name"] or (upload.name or "").replace("\\", "/").rsplit("/", 1)[-1]
        try:
            stored = services.namespace_file_put(
                account=request.user, namespace=namespace, path=f"{directory}/{name}", content=upload
            )
        except MillraceError as exc:
            messages.error(request, f"The file was not stored: {exc}")
            return HttpResponseRedirect(self._listing_url(namespace, directory))
        verb = "Uploaded" if stored.created else "Replaced"
        messages.success(request, f"{verb} {stored.path} ({filesizeformat(stored.size)}).")
        return HttpResponseRedirect(self._listing_url(namespace, _parent(stored.path)))

    def file_edit_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """`?path=<file>`: its text in a textarea (read-only for viewers); a path with no file makes a new one."""
        namespace = self._namespace(request, object_id)
        if namespace is None:
            return self._missing(request, object_id)
        can_edit = self._can_edit(request, namespace)
        if request.method == "POST" and not can_edit:
            raise PermissionDenied
        try:
            file_path = selectors.clean_file_path(request.GET.get("path", ""))
            text = self._text(request, namespace, file_path)
        except MillraceError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(self._listing_url(namespace))
        if text is None and not can_edit:
            messages.error(request, f"File '{file_path}' not found.")
            return HttpResponseRedirect(self._listing_url(namespace, _parent(file_path)))
        form = EditForm(request.POST if request.method == "POST" else None, initial={"content": text or ""})
        if request.method == "POST" and form.is_valid():
            content = form.cleaned_data["content"].replace("\r\n", "\n").encode()
            try:
                stored = services.namespace_file_put(
                    account=request.user, namespace=namespace, path=file_path, content=content
                )
            except MillraceError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Saved {stored.path} ({filesizeformat(stored.size)}).")
                return HttpResponseRedirect(self._listing_url(namespace, _parent(stored.path)))
        if not can_edit:
            form.fields["content"].widget.attrs["readonly"] = True
        verb = "Edit" if can_edit else "View"
        context = self._context(
            request,
            namespace,
            f"{verb} {file_path}" if text is not None else f"New file {file_path}",
            form=form,
            file_path=file_path,
            is_new=text is None,
            crumbs=self._crumbs(_parent(file_path)),
            leaf=posixpath.basename(file_path),
        )
        return TemplateResponse(request, "admin/files/namespace_file_edit.html", context)

    @staticmethod
    def _text(request: HttpRequest, namespace: Namespace, file_path: str) -> str | None:
        """The file as text, None when there is none; a file too large or not UTF-8 is a MillraceError."""
        try:
            entry = selectors.namespace_file_stat(account=request.user, namespace=namespace, path=file_path)
        except MillraceError as exc:
            if exc.status == 404:
                return None
            raise
        if entry.is_dir:
            raise BadRequest(f"'{file_path}' is a directory.")
        if (entry.size or 0) > EDIT_MAX_BYTES:
            raise BadRequest(f"'{file_path}' is larger than {filesizeformat(EDIT_MAX_BYTES)}: download it instead.")
        _, handle = selectors.namespace_file_open(account=request.user, namespace=namespace, path=file_path)
        with handle:
            data = handle.read()
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise BadRequest(f"'{file_path}' is not UTF-8 text: download it instead.") from None

    def file_delete_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """`?path=<file or directory>`: a confirmation page; POST deletes (a directory with all under it)."""
        namespace = self._namespace(request, object_id)
        if namespace is None:
            return self._missing(request, object_id)
        if not self._can_edit(request, namespace):
            raise PermissionDenied
        try:
            target = selectors.clean_file_path(request.GET.get("path", ""))
            entry = selectors.namespace_file_stat(account=request.user, namespace=namespace, path=target)
            if request.method == "POST":
                removed = services.namespace_file_delete(account=request.user, namespace=namespace, path=target)
        except MillraceError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(self._listing_url(namespace))
        if request.method == "POST":
            messages.success(request, f"Deleted {target} ({removed} file{'s' if removed != 1 else ''}).")
            return HttpResponseRedirect(self._listing_url(namespace, _parent(target)))
        context = self._context(
            request,
            namespace,
            f"Delete {target}",
            target=target,
            entry=entry,
            directory=_parent(target),
            crumbs=self._crumbs(_parent(target)),
            leaf=f"Delete {posixpath.basename(target)}",
        )
        return TemplateResponse(request, "admin/files/namespace_file_delete.html", context)


admin.site.unregister(Namespace)


@admin.register(Namespace)
class NamespaceWithFilesAdmin(NamespaceFilesMixin, NamespaceAdmin):
    """The namespace admin with its files pages (a "Files" link on the namespace's page)."""
