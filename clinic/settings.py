"""Settings come from the environment; the defaults run a demo with no outside service."""

import datetime as dt
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from kombu import Exchange, Queue
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# The embedded defaults' files (SQLite, filesystem broker, media, collected static, beat's schedule).
VAR_DIR = Path(env("DJANGO_VAR_DIR", default=str(BASE_DIR / "var")))

# DJANGO_ENV=production turns off every development default, the secret key above all.
PRODUCTION = env("DJANGO_ENV", default="development") == "production"
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
if PRODUCTION:
    SECRET_KEY = env("DJANGO_SECRET_KEY")  # raises ImproperlyConfigured when unset
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-not-for-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[] if PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "csp",
    "clinic",
    "visits",
    "scheduling",
    "push",
    "webhooks",
    "messaging",
    "reminders",
    "waitlist",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "clinic.middleware.ApiJsonSuffixMiddleware",
    "clinic.middleware.ApiErrorMiddleware",
    "clinic.middleware.DatabaseOutageMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "clinic.middleware.SessionTimeoutMiddleware",
    "clinic.middleware.NoStoreMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "clinic.middleware.ServiceErrorMiddleware",
    # Last, as axes asks: it turns a lockout flagged during the request into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.context_processors.session_limits",
            ],
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'clinic.sqlite3'}")}
_db = DATABASES["default"]
_db_options = _db.setdefault("OPTIONS", {})
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs web, worker and beat on one file: wait for the lock instead of failing.
    _db_options["timeout"] = 20
else:
    # A database host that does not answer fails the request (503) instead of hanging it.
    _db_options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
    # Under uvicorn every request in flight runs in a thread of its own, and a thread's connection is
    # its own: without a pool each request opens (and CONN_MAX_AGE would leak) a connection. The pool
    # bounds a process to DATABASE_POOL_MAX_SIZE connections; a request past that waits up to
    # DATABASE_POOL_TIMEOUT seconds for one. Off behind PgBouncer (README), and in the Celery
    # workers, whose Django fixup closes connections around every task anyway.
    if env.bool("DATABASE_POOL", default=True):
        _db_options["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=4),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=5.0),
            # Idle connections above min_size are closed after this many seconds.
            "max_idle": env.float("DATABASE_POOL_MAX_IDLE", default=300.0),
        }
    # PgBouncer in transaction mode: no server-side cursors, no prepared statements.
    _db["DISABLE_SERVER_SIDE_CURSORS"] = env.bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False)
    if _db["DISABLE_SERVER_SIDE_CURSORS"]:
        _db_options["prepare_threshold"] = None
# Persistent connections only where there is no pool (they cannot be combined); checked before reuse.
_db.setdefault("CONN_MAX_AGE", 0 if "pool" in _db_options else env.int("DATABASE_CONN_MAX_AGE", default=0))
_db["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "clinic.User"
# Axes first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "clinic.auth_backends.AccountUsernameBackend",
]
# Usernames are unique per account (a constraint), and the backend above looks them up that way.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # ASVS 2.1.1. The demo users' "demo" is set by seed_demo directly, past the validators.
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Staff sessions --------------------------------------------------------------------------
# Logged out after this many seconds without a request the user made (the queues' polling does not count).
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
# Logged out this many seconds after logging in, busy or not.
SESSION_ABSOLUTE_LIFETIME = env.int("SESSION_ABSOLUTE_LIFETIME", default=12 * 3600)
# The page warns this many seconds before the idle logout, with a button to stay.
SESSION_IDLE_WARNING = env.int("SESSION_IDLE_WARNING", default=120)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIFETIME

# --- Login lockout (django-axes): staff page, /admin/ and POST /api/v3/users/login ------------
# Locked after this many failures in LOGIN_LOCKOUT_SECONDS, by user (clinic code + username) and by
# address, each on its own; a clinic admin can clear a lockout at /manage/lockouts/.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(seconds=env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "clinic.lockout.login_key"
AXES_CLIENT_IP_CALLABLE = "clinic.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "clinic.lockout.lockout_response"
# A success does not wipe the address's count: one good login must not reset an attacker's budget.
AXES_RESET_ON_SUCCESS = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# The logs name the login tried and the address (never the password) so that failures can be traced.
AXES_SENSITIVE_PARAMETERS = []
# Behind a TLS proxy, the number of proxies that append to X-Forwarded-For (0: use the peer address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Throttle counts and cached availability (anything cached) live here: Redis in production, so that every
# web process shares them, e.g. CACHE_URL=redis://127.0.0.1:6379/1.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# collectstatic only in production (make run does it); elsewhere WhiteNoise serves from the finders.
STATIC_ROOT = VAR_DIR / "staticfiles" if PRODUCTION else None
WHITENOISE_USE_FINDERS = not PRODUCTION
# Source maps (the API docs' bundles ship megabytes of them) are for developers: compressing them was
# most of collectstatic's time.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {
        "BACKEND": env("DEFAULT_FILE_STORAGE", default="django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Response headers ------------------------------------------------------------------------
SECURE_REFERRER_POLICY = "same-origin"
# No inline script anywhere: pages load their scripts from static/js; htmx's inline indicator style is
# turned off (meta htmx-config) and its rules are in app.css.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # Progress bars and thumbnails size themselves with style attributes (never <style> or script).
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # TLS ends at the proxy or load balancer, which must set (or overwrite) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Off by default because the proxy usually does both; README says when to turn them on.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
# The load balancer's probes come over plain HTTP, straight to the node.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
# A database or broker outage answers 503 with this Retry-After (clinic.middleware.OutageMiddleware).
OUTAGE_RETRY_AFTER = env.int("OUTAGE_RETRY_AFTER", default=5)

# --- API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["clinic.authentication.AccountTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["clinic.permissions.IsAccountUser"],
    # DRF's parsers, refusing what PostgreSQL cannot store (NUL) and absurdly nested JSON with a 400.
    "DEFAULT_PARSER_CLASSES": [
        "clinic.parsers.JSONParser",
        "clinic.parsers.FormParser",
        "clinic.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "clinic.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Which calls are limited, and for whom, is in clinic/throttles.py; the rates are below.
    "DEFAULT_THROTTLE_CLASSES": ["clinic.throttles.ApiRateThrottle"],
}
# "<number>/<sec|min|hour|day>". Past the rate, 429 with Retry-After.
API_THROTTLE_RATES = {
    # POST /users/sso, per API key
    "sso": env("THROTTLE_SSO_RATE", default="300/min"),
    # GET /availability with the API key and no user token, per API key
    "availability": env("THROTTLE_AVAILABILITY_RATE", default="300/min"),
    # POST /files, per user
    "upload": env("THROTTLE_UPLOAD_RATE", default="30/min"),
    # GET /accounts/:code (public), per address
    "account_lookup": env("THROTTLE_ACCOUNT_LOOKUP_RATE", default="60/min"),
}
# Unknown secrets per address asked of the pages opened through a secret URL (patients' links, calendar
# feeds) before that address is refused for the rest of the window (clinic.throttles.secret_url_page).
PUBLIC_PAGE_MISS_RATE = env("THROTTLE_PUBLIC_PAGE_MISS_RATE", default="20/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic Visit API",
    "DESCRIPTION": "Compatible with VSee Clinic's Visit API v3. Every request carries X-AccountCode.",
    "VERSION": "3",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v3",
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "VisitTypeEnum": "visits.models.VisitType.choices",
        "VisitStatusEnum": "visits.models.VisitStatus.choices",
        "IntakeTypeEnum": "visits.serializers.INTAKE_TYPE_CHOICES",
        "UserTypeEnum": "clinic.models.UserType.choices",
    },
}
API_TOKEN_LIFETIME = env.int("API_TOKEN_LIFETIME", default=24 * 3600)
API_REFRESH_TOKEN_LIFETIME = env.int("API_REFRESH_TOKEN_LIFETIME", default=30 * 24 * 3600)
# Patients' custom intake fields are free-form: bound them so one client cannot bloat the table.
INTAKE_CUSTOM_FIELDS_MAX_COUNT = env.int("INTAKE_CUSTOM_FIELDS_MAX_COUNT", default=50)
INTAKE_CUSTOM_FIELD_MAX_NAME = 64
INTAKE_CUSTOM_FIELD_MAX_VALUE = env.int("INTAKE_CUSTOM_FIELD_MAX_VALUE", default=2000)

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
_broker_dir = VAR_DIR / "broker"
_redis_transport_options = {
    # Redis redelivers a message not acknowledged within this many seconds: longer than the longest
    # task (build_summary_export, time_limit 960 s), or a running export would be started twice.
    "visibility_timeout": 1200,
    # A Redis host that does not answer fails a publish in seconds; the caller decides what then.
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    # Priorities within a queue (0 first): a clinic admin's renders before the background summaries of
    # visits the system closed (visits.summaries.services.RENDER_PRIORITY, BACKGROUND_PRIORITY).
    "priority_steps": list(range(10)),
    "queue_order_strategy": "priority",
}
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # Kombu's default is ./control: the exchange tables would land in the working tree.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else _redis_transport_options
)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Queues, each served by its own worker in production (README): short periodic tasks are never stuck
# behind PDF renders, which are never stuck behind webhook deliveries. A worker started without -Q
# (the tests' workers) consumes all of them.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in ("default", "periodic", "render", "webhooks", "messages")
]
CELERY_TASK_ROUTES = {
    "visits.tasks.close_overdue_visits": {"queue": "periodic"},
    "visits.tasks.attachments_cleanup": {"queue": "periodic"},
    "visits.tasks.summary_exports_cleanup": {"queue": "periodic"},
    "visits.tasks.summaries_sweep": {"queue": "periodic"},
    "visits.tasks.render_visit_summary": {"queue": "render"},
    "visits.tasks.build_summary_export": {"queue": "render"},
    "webhooks.tasks.*": {"queue": "webhooks"},
    "messaging.tasks.deliver": {"queue": "messages"},
    "messaging.tasks.sweep": {"queue": "periodic"},
    "messaging.tasks.links_cleanup": {"queue": "periodic"},
    "reminders.tasks.sweep": {"queue": "periodic"},
    "reminders.tasks.catch_up": {"queue": "periodic"},
    "waitlist.tasks.offers_sweep": {"queue": "periodic"},
}
# Every task is idempotent: acknowledged once done, and run again when its worker dies mid-task.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task running while the broker connection is lost finishes (its result is what the user waits
# for); Redis redelivers it after the visibility timeout and the second run finds the work done.
# Cancelling instead needs the broker that was just lost, and fails.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A broker that is down at start-up or goes away later is waited for, for ever, instead of the worker
# exiting. Celery/kombu 5.7 (pinned in pyproject.toml) also cancel the event-loop timers of the lost
# connection before reconnecting: older versions could fire one against the closed connection and
# die with "'NoneType' object has no attribute 'hostname'". The process manager restarts a worker
# that dies all the same.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TASK_SERIALIZER = "json"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {}

# --- Attachments (POST /files) ---------------------------------------------------------------
# Checked by content: these are the detected types accepted. HEIC needs pillow-heif (a dependency).
ATTACHMENT_TYPES = env.list(
    "ATTACHMENT_TYPES", default=["image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf"]
)
# Past this, 413. Django spools uploads over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file, so a
# large one never sits in memory; the Content-Length is checked before the body is read at all.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=20 * 1024 * 1024)
# Refused from the image header, before any decoding: a small file can declare a huge canvas.
ATTACHMENT_MAX_PIXELS = env.int("ATTACHMENT_MAX_PIXELS", default=40_000_000)
# All of one user's uploads together (413 past it).
ATTACHMENT_QUOTA_BYTES = env.int("ATTACHMENT_QUOTA_BYTES", default=200 * 1024 * 1024)
# Uploaded but not attached to an intake within this many seconds: removed by the clean-up task.
ATTACHMENT_UNATTACHED_TTL = env.int("ATTACHMENT_UNATTACHED_TTL", default=24 * 3600)
CELERY_BEAT_SCHEDULE["visits-attachments-cleanup"] = {
    "task": "visits.tasks.attachments_cleanup",
    "schedule": 3600.0,
}

# --- Visit summaries (PDF) -------------------------------------------------------------------
# "Letter" or "A4": the print size of the PDF visit summaries.
VISIT_SUMMARY_PAGE_SIZE = env("VISIT_SUMMARY_PAGE_SIZE", default="Letter")
# Bulk export ZIPs are kept this many seconds, then removed by a beat task.
SUMMARY_EXPORT_TTL = env.int("SUMMARY_EXPORT_TTL", default=7 * 24 * 3600)
CELERY_BEAT_SCHEDULE["visits-summaries-sweep"] = {"task": "visits.tasks.summaries_sweep", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["visits-summary-exports-cleanup"] = {
    "task": "visits.tasks.summary_exports_cleanup",
    "schedule": 24 * 3600.0,
}

# --- Dashboard -------------------------------------------------------------------------------
QUEUE_REFRESH_SECONDS = env.int("QUEUE_REFRESH_SECONDS", default=2)
# The clinic board's refresh (front desk and admins).
BOARD_REFRESH_SECONDS = env.int("BOARD_REFRESH_SECONDS", default=5)
# A provider acts on the oldest patients: each queue shows this many rows and the total count.
QUEUE_PAGE_SIZE = env.int("QUEUE_PAGE_SIZE", default=25)
# Past this fraction of the room's max waiting time a waiting patient is shown as urgent.
QUEUE_WAIT_WARNING_FRACTION = env.float("QUEUE_WAIT_WARNING_FRACTION", default=0.75)
CELERY_BEAT_SCHEDULE["visits-close-overdue"] = {
    "task": "visits.tasks.close_overdue_visits",
    "schedule": 30.0,
    # No expiry: a late run still closes what is overdue (the periodic queue keeps it from being late).
}
DEFAULT_ACCOUNT_CODE = env("DEFAULT_ACCOUNT_CODE", default="demo")
# The video call link of every visit, unless its room or account has one: {meeting_id}, optionally {role}.
VIDEO_LINK_TEMPLATE = env("VIDEO_LINK_TEMPLATE", default="")

# --- Live push (push/) -----------------------------------------------------------------------
# Where queue-change events go: Redis (pub/sub for the live fan-out to every web node, a stream per
# account for replay) when the broker is Redis; else a SQLite file under var/, which the web process and
# the Celery worker of the embedded default both reach.
PUSH_URL = env(
    "PUSH_URL",
    default=CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else f"sqlite:///{VAR_DIR / 'push.sqlite3'}",
)
# Redis channels are shared by every database of a server: deployments (and test runs) sharing one
# Redis keep apart by this prefix.
PUSH_CHANNEL_PREFIX = env("PUSH_CHANNEL_PREFIX", default="clinic")
# Events kept per account for a reconnecting page to replay; older gaps make the page refresh instead.
PUSH_RETENTION = env.int("PUSH_RETENTION", default=1000)
# A comment line this often keeps proxies and load balancers from closing an idle stream.
PUSH_HEARTBEAT_SECONDS = env.float("PUSH_HEARTBEAT_SECONDS", default=15.0)
# A stream ends after this long and the browser reconnects (losslessly): who may see which rooms is
# read again then, so a changed role or a logged-out session stops receiving events.
PUSH_STREAM_MAX_SECONDS = env.float("PUSH_STREAM_MAX_SECONDS", default=3600.0)
# A page reloads its queues on each event: a stream sends at most one per this interval, merging the
# changes in between (a quiet queue's change still goes at once).
PUSH_MIN_INTERVAL_SECONDS = env.float("PUSH_MIN_INTERVAL_SECONDS", default=0.3)
# How often the SQLite backend's web process looks for new events (Redis pushes them instead).
PUSH_SQLITE_POLL_SECONDS = env.float("PUSH_SQLITE_POLL_SECONDS", default=0.2)

# --- Outgoing webhooks -----------------------------------------------------------------------
# Endpoint URLs must be https (production's default), and never reach private, loopback, link-local or
# reserved addresses unless allowed: development allows them so that a receiver on this machine works.
WEBHOOK_HTTPS_ONLY = env.bool("WEBHOOK_HTTPS_ONLY", default=PRODUCTION)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=not PRODUCTION)
# Seconds: to connect, and for the whole request; a receiver slower than that counts as a failure.
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
# The outbox is the source of truth: the sweeper enqueues deliveries that are due (retries, lost messages).
CELERY_BEAT_SCHEDULE["webhooks-sweep"] = {
    "task": "webhooks.tasks.sweep",
    "schedule": 10.0,
    "options": {"expires": 9},
}

# --- Email and messages to patients (messaging/) ---------------------------------------------
# Patients' messages, and the clinic admins' notice of a webhook endpoint that turned itself off. SMTP in
# production (EMAIL_HOST, EMAIL_PORT, ...); elsewhere each message is a file under var/mail, so nothing
# leaves the machine.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
# Seconds to wait for the mail server; a delivery that times out is retried later.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="clinic@localhost")
# Text messages: a class with send_messages() (messaging/sms.py); the default logs them and sends nothing.
SMS_BACKEND = env("SMS_BACKEND", default="messaging.sms.LoggingBackend")
# The site as patients reach it: the links in messages start with it.
PUBLIC_URL = env("PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
CELERY_BEAT_SCHEDULE["messaging-sweep"] = {
    "task": "messaging.tasks.sweep",
    "schedule": 60.0,
    "options": {"expires": 55},
}
CELERY_BEAT_SCHEDULE["messaging-links-cleanup"] = {
    "task": "messaging.tasks.links_cleanup",
    "schedule": 24 * 3600.0,
}

# --- Appointment reminders (reminders/) ------------------------------------------------------
# Minutes before an appointment that reminders go, and the hours nothing is sent ("HH:MM-HH:MM" in the
# room's zone; empty: none), unless the clinic or the room sets its own (ReminderPlan, in the admin).
REMINDER_OFFSETS = env.list("REMINDER_OFFSETS", cast=int, default=[24 * 60, 120])
_quiet = env("REMINDER_QUIET_HOURS", default="21:00-08:00")
REMINDER_QUIET_HOURS = (
    tuple(dt.time.fromisoformat(part.strip()) for part in _quiet.split("-", 1)) if _quiet else None
)
# How many days of free slots the patient's reschedule page offers.
REMINDER_RESCHEDULE_DAYS = env.int("REMINDER_RESCHEDULE_DAYS", default=14)
CELERY_BEAT_SCHEDULE["reminders-sweep"] = {
    "task": "reminders.tasks.sweep",
    "schedule": 60.0,
    "options": {"expires": 55},
}
# Changes whose task a broker outage lost are told late rather than never.
CELERY_BEAT_SCHEDULE["reminders-catch-up"] = {
    "task": "reminders.tasks.catch_up",
    "schedule": 300.0,
    "options": {"expires": 290},
}

# --- Audit trail -----------------------------------------------------------------------------
# How many reverse proxies in front of the app append the address they saw to X-Forwarded-For. 0 (the
# default): the header is ignored and the peer address (REMOTE_ADDR) is what the trail records.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Records of reads are committed without waiting for the disk (PostgreSQL's asynchronous commit): the
# hot paths' one insert does not wait for a WAL flush. A database crash may lose the last fraction of a
# second of read records; records of changes are always committed durably. False: every record waits.
AUDIT_ASYNC_READ_COMMIT = env.bool("AUDIT_ASYNC_READ_COMMIT", default=True)
# A row a user is shown again in a list (the dashboard's queues refresh every few seconds) is recorded
# again only after this many seconds; 0: every time. Remembered in Django's cache (per process by default).
AUDIT_LIST_REPEAT_SECONDS = env.int("AUDIT_LIST_REPEAT_SECONDS", default=300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs every rendering step at INFO; its warnings (a refused URL) still show.
    "loggers": {
        "weasyprint.progress": {"level": "WARNING"},
        # Failed logins and lockouts are warnings; axes' INFO lines (each success, each clean-up) are noise.
        "axes": {"level": "WARNING"},
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Waitlist ---------------------------------------------------------------------------------------
# A freed slot is kept this long for the patients offered it, then rolls to the next ones.
WAITLIST_HOLD_MINUTES = env.int("WAITLIST_HOLD_MINUTES", default=15)
# How many of the best-ranked patients are offered one slot at once (the first to accept books it).
WAITLIST_OFFER_BATCH = env.int("WAITLIST_OFFER_BATCH", default=2)
# The eta task rolls a hold when it ends; the sweep catches any whose task was lost.
CELERY_BEAT_SCHEDULE["waitlist-offers-sweep"] = {"task": "waitlist.tasks.offers_sweep", "schedule": 60.0}
