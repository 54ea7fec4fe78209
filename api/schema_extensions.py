"""Teach drf-spectacular our authentication classes (all are `Authorization: Bearer`)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.SlidingJWTAuthentication"
    name = "bearerAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A login token (sliding JWT) or a personal API token (`mr_...`).",
        }


class ApiTokenScheme(BearerScheme):
    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"


class OpenAccessScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.OpenAccessAuthentication"
    name = "openAccess"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "Only when MILLRACE_AUTH_REQUIRED=false."}
