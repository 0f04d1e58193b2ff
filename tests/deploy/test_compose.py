"""docker-compose.yml, the Dockerfile and deploy/nginx.conf describe the production topology.

There is no Docker engine here: the YAML is loaded with PyYAML (anchors and merge keys resolved,
as compose does) and checked for structure.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"postgres", "redis", "web", "worker", "beat", "nginx"}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command(service):
    value = service.get("command", "")
    return " ".join(value) if isinstance(value, list) else value


def volume_targets(service):
    return {entry.split(":")[1]: entry.split(":")[0] for entry in service.get("volumes", [])}


def test_the_six_services_exist(compose):
    assert SERVICES <= set(compose["services"])


def test_postgres_and_redis(compose):
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "/var/lib/postgresql/data" in volume_targets(postgres)
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert compose["services"]["redis"]["image"].startswith("redis:7")
    assert "healthcheck" in compose["services"]["redis"]


def test_web_migrates_then_runs_gunicorn(compose):
    web = compose["services"]["web"]
    text = command(web)
    assert "manage.py migrate --noinput" in text
    assert "gunicorn config.wsgi:application" in text
    assert text.index("migrate") < text.index("gunicorn")
    assert "healthcheck.py" in " ".join(web["healthcheck"]["test"])
    assert (ROOT / "deploy" / "healthcheck.py").exists()
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "ports" not in web  # only nginx is published


def test_worker_and_beat_run_celery(compose):
    worker = command(compose["services"]["worker"])
    beat = command(compose["services"]["beat"])
    assert worker.startswith("celery -A config worker") and "-Q default" in worker
    assert beat.startswith("celery -A config beat") and "--schedule /app/var/celery/beat-schedule" in beat
    assert "/app/var/celery" in volume_targets(compose["services"]["beat"])


def test_app_services_share_one_image_and_the_env_file(compose):
    images = {compose["services"][name]["image"] for name in ("web", "worker", "beat")}
    assert len(images) == 1
    for name in ("web", "worker", "beat"):
        assert compose["services"][name]["env_file"] == ".env"


def test_nginx_serves_static_and_media(compose):
    nginx = compose["services"]["nginx"]
    targets = volume_targets(nginx)
    assert targets["/srv/static"] == "static" and targets["/srv/media"] == "media"
    assert targets["/etc/nginx/conf.d/default.conf"] == "./deploy/nginx.conf"
    web = volume_targets(compose["services"]["web"])
    assert web["/app/var/static"] == "static" and web["/app/var/media"] == "media"
    assert {"static", "media", "pgdata"} <= set(compose["volumes"])


def test_every_variable_is_documented_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    documented = env_example_names()
    used = re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}", text)
    assert used
    for name, default in used:
        if default.startswith((":-", "-")):
            assert name in documented["all"], name  # optional: a commented "# NAME=" line is enough
        else:
            assert name in documented["set"], f"{name} must have a line in .env.example"


def env_example_names():
    lines = (ROOT / ".env.example").read_text().splitlines()
    set_names = {m.group(1) for line in lines if (m := re.match(r"([A-Z][A-Z0-9_]*)=", line))}
    optional = {m.group(1) for line in lines if (m := re.match(r"#\s?([A-Z][A-Z0-9_]*)=", line))}
    return {"set": set_names, "all": set_names | optional}


def test_nginx_conf():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_pass http://mendian_web" in conf and "server web:8000" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme" in conf
    assert "client_max_body_size" in conf
    assert "autoindex off" in conf
    media = conf[conf.index("location /media/") :]
    assert "add_header X-Content-Type-Options nosniff always" in media
    assert 'add_header Content-Disposition "attachment" always' in media
    assert "default_type application/octet-stream" in media
    assert "fastcgi_pass" not in conf and "proxy_pass" not in media.split("location / {")[0]


def test_dockerfile():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "requirements.lock" in dockerfile
    assert "scripts/build_assets.sh" in dockerfile and "package-lock.json" in dockerfile
    assert "collectstatic --noinput" in dockerfile
    assert re.search(r"^USER app$", dockerfile, re.M)
    assert 'CMD ["gunicorn", "config.wsgi:application"' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ".venv" in ignored
