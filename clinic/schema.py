"""How the OpenAPI schema describes the contract's header authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class AccountTokenScheme(OpenApiAuthenticationExtension):
    target_class = "clinic.authentication.AccountTokenAuthentication"
    name = ["AccountCode", "ApiToken"]

    def get_security_requirement(self, auto_schema):
        return {"AccountCode": [], "ApiToken": []}

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-AccountCode",
                "description": "The clinic account code.",
            },
            {"type": "apiKey", "in": "header", "name": "X-ApiToken", "description": "A user's API token."},
        ]
