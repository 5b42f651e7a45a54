from django.contrib.admin.apps import AdminConfig


class ServerOpsAdminConfig(AdminConfig):
    """``django.contrib.admin`` with ServerOps' site as ``admin.site`` (branding and input guards)."""

    default_site = "serverops.admin_site.ServerOpsAdminSite"
