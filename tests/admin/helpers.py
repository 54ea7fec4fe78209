"""URLs of the console pages under test."""

from django.db import models
from django.urls import reverse


def admin_url(name: str, *args: object) -> str:
    return reverse(f"admin:{name}", args=args)


def change_url(obj: models.Model) -> str:
    return admin_url(f"{obj._meta.app_label}_{obj._meta.model_name}_change", obj.pk)


def changelist_url(model: type[models.Model]) -> str:
    return admin_url(f"{model._meta.app_label}_{model._meta.model_name}_changelist")


def add_url(model: type[models.Model]) -> str:
    return admin_url(f"{model._meta.app_label}_{model._meta.model_name}_add")
