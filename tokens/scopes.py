"""The thirteen scopes a token may hold (docs/api.md#tokens-and-scopes). Scopes never imply each other."""

SCOPES: dict[str, str] = {
    "media:read": "Read media files and their metadata",
    "media:write": "Upload, change and delete media files",
    "logs:read": "Read server logs",
    "logs:write": "Send server logs",
    "cases:read": "List and read moderation cases and their history",
    "cases:write": "Create and update moderation cases",
    "apps:read": "Read installed apps",
    "apps:write": "Install, configure and remove apps",
    "usage:read": "Read usage figures",
    "members:read": "Read the project's members",
    "members:write": "Invite, change and remove members",
    "billing:read": "Read invoices and the billing plan",
    "tokens:write": "Create and revoke API tokens",
}

SCOPE_CHOICES = [(scope, f"{scope} — {text}") for scope, text in SCOPES.items()]
