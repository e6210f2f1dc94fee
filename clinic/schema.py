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


class ApiKeyFirstScheme(OpenApiAuthenticationExtension):
    """POST /users/sso: the account code with the API key and secret."""

    target_class = "clinic.authentication.ApiKeyFirstAuthentication"
    # AccountCode's definition comes with AccountTokenScheme (every other call uses it).
    name = ["ApiKey", "ApiSecret"]

    def get_security_requirement(self, auto_schema):
        return {"AccountCode": [], "ApiKey": [], "ApiSecret": []}

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-ApiKey", "description": "The account's API key."},
            {"type": "apiKey", "in": "header", "name": "X-ApiSecret", "description": "Its secret."},
        ]
