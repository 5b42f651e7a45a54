import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serverops.settings.base")

from django.core.wsgi import get_wsgi_application

from .bodies import BodyFraming

# Chunked bodies read whole and bodies that end early refused, before Django sees them.
application = BodyFraming(get_wsgi_application())
