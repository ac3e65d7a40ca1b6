"""Realistic secrets planted in realistic log lines, random per seed, for redaction tests.

Each :class:`Planted` knows its ``material``: the random parts that must never leave the host (not
the public format prefix such as ``AKIA`` or ``sk-proj-``). :func:`survivors` reports every planted
secret of which any 8-character window is still present in an output, which also catches a prefix
left over by a cut.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"
BASE32 = string.ascii_uppercase + "234567"
PW = ALNUM + "!#$%^*_-+=.~"
URL_PW = ALNUM + "!$*_-+.~"
WINDOW = 8


@dataclass(frozen=True)
class Planted:
    kind: str
    line: str
    material: tuple[str, ...]


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _pw(rng: random.Random, alphabet: str = PW) -> str:
    # at least one letter and one digit up front: a password is never all punctuation
    return (
        rng.choice(string.ascii_letters) + rng.choice(string.digits) + _r(rng, alphabet, rng.randint(10, 18))
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


Gen = Callable[[random.Random], tuple[str, tuple[str, ...]]]


def _one(templates: list[str], make: Callable[[random.Random], str]) -> Gen:
    """A kind whose secret is one random string ``make`` builds, planted in one of ``templates``."""

    def gen(rng: random.Random) -> tuple[str, tuple[str, ...]]:
        secret = make(rng)
        return rng.choice(templates).format(s=secret, u=rng.choice(["svc", "admin", "deploy", "ci"])), (
            secret,
        )

    return gen


def _token(
    templates: list[str], prefix: str, alphabet: str, n: int | tuple[int, int], suffix: str = ""
) -> Gen:
    """A token with a public prefix: only its random body counts as material."""

    def gen(rng: random.Random) -> tuple[str, tuple[str, ...]]:
        size = n if isinstance(n, int) else rng.randint(*n)
        body = _r(rng, alphabet, size)
        line = rng.choice(templates).format(s=prefix + body + suffix, u=rng.choice(["svc", "admin", "ci"]))
        return line, (body,)

    return gen


def _jwt(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": _r(rng, ALNUM, 12), "iat": rng.randint(1.6e9, 1.9e9), "role": "admin"}
    payload, sig = _b64url(json.dumps(claims).encode()), _b64url(rng.randbytes(32))
    line = rng.choice(
        [
            "auth middleware: rejected token {t} (expired)",
            'GET /api/v1/jobs -H "X-Session: {t}" 401',
            "session cookie jwt={t}; Path=/",
        ]
    ).format(t=f"{header}.{payload}.{sig}")
    return line, (payload[-24:], sig)


def _pem(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    kind = rng.choice(["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    body = [_r(rng, B64, 64) for _ in range(rng.randint(3, 8))]
    block = f"-----BEGIN {kind}-----\n" + "\n".join(body) + f"\n-----END {kind}-----"
    if rng.random() < 0.3:  # a service-account JSON with \n escapes
        return json.dumps({"type": "service_account", "private_key": block + "\n"}), tuple(body)
    return f"loaded key from vault:\n{block}", tuple(body)


def _azure_storage(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    key = _r(rng, B64, 86) + "=="
    line = (
        "blob upload failed, conn=DefaultEndpointsProtocol=https;AccountName=ckpt"
        f"{rng.randint(1, 99)};AccountKey={key};EndpointSuffix=core.windows.net"
    )
    return line, (key[:-2],)


def _azure_ad(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    secret = _r(rng, ALNUM, 3) + rng.choice(string.digits) + "Q~" + _r(rng, ALNUM + "_~.-", 34)
    return f"msal: acquiring token for app 3f2a with client secret {secret}", (secret[6:],)


def _sendgrid(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    a, b = _r(rng, B64URL, 22), _r(rng, B64URL, 43)
    return f"mailer: SENDGRID key SG.{a}.{b} rejected (401)", (a, b)


def _basic(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    pw = _pw(rng)
    cred = base64.b64encode(f"admin:{pw}".encode()).decode()
    return f"proxy request header Authorization: Basic {cred}", (cred,)


def _pw_kind(templates: list[str], alphabet: str = PW) -> Gen:
    def gen(rng: random.Random) -> tuple[str, tuple[str, ...]]:
        pw = _pw(rng, alphabet)
        return rng.choice(templates).format(s=pw, u=rng.choice(["svc", "admin", "root", "backup"])), (pw,)

    return gen


KINDS: dict[str, Gen] = {
    "aws_access_key": _token(
        [
            "aws configure set aws_access_key_id {s}",
            "boto3: using access key {s} for s3://ckpt",
            "AWS_ACCESS_KEY_ID={s}",
        ],
        "AKIA",
        BASE32,  # AWS key ids are base32
        16,
    ),
    "aws_secret_key": _one(
        ["export AWS_SECRET_ACCESS_KEY={s}", "aws_secret_access_key = {s}", '{{"SecretAccessKey": "{s}"}}'],
        lambda rng: _r(rng, B64, 40),
    ),
    "github_classic": _token(
        [
            "git clone https://{s}@github.com/org/train.git",
            "GITHUB_TOKEN={s} gh release list",
            "pushing with {s}",
        ],
        "ghp_",
        ALNUM,
        36,
    ),
    "github_fine": _token(
        ["gh auth login --with-token <<< {s}", "token {s} lacks scope repo"], "github_pat_", ALNUM + "_", 82
    ),
    "slack": _one(
        ["slack notify failed for xoxb token {s}", "SLACK_BOT_TOKEN={s}"],
        lambda rng: f"xoxb-{_r(rng, string.digits, 11)}-{_r(rng, string.digits, 13)}-{_r(rng, ALNUM, 24)}",
    ),
    "stripe": _token(
        ["stripe.api_key = '{s}'", "payment webhook signed with {s} failed", "STRIPE_KEY={s}"],
        "sk_live_",
        ALNUM,
        (24, 99),
    ),
    "google_api": _token(
        ["maps geocode ?key={s} 403", "GOOGLE_API_KEY={s}", "firebase init apiKey {s}"],
        "AIza",
        ALNUM + "_-",
        35,
    ),
    "jwt": _jwt,
    "private_key": _pem,
    "huggingface": _token(
        ["huggingface-cli login --token {s}", "HF_TOKEN={s} python train.py", "hub: 401 for {s}"],
        "hf_",
        ALNUM,
        34,
    ),
    "openai_project": _token(
        [
            "openai.AuthenticationError: Incorrect API key provided: {s}",
            "OPENAI_API_KEY={s}",
            "client = OpenAI(api_key='{s}')",
        ],
        "sk-proj-",
        B64URL,
        (100, 160),
    ),
    "openai_legacy": _token(["openai: using key {s}", "Authorization: Bearer {s}"], "sk-", ALNUM, 48),
    "anthropic": _token(
        ["anthropic: 401 invalid x-api-key {s}", "ANTHROPIC_API_KEY={s}"], "sk-ant-api03-", B64URL, 93, "AA"
    ),
    "azure_storage": _azure_storage,
    "azure_ad": _azure_ad,
    "twilio": _token(
        ["twilio client created with api key {s}", "sms gateway key {s} suspended"], "SK", HEX, 32
    ),
    "sendgrid": _sendgrid,
    "npm": _token(
        ["//registry.npmjs.org/:_authToken={s}", "npm publish failed: token {s} revoked"], "npm_", ALNUM, 36
    ),
    "pypi": _token(
        ["twine upload --password {s} dist/*", "password = {s}"], "pypi-AgEIcHlwaS5vcmc", B64URL, (120, 180)
    ),
    "gitlab": _token(
        [
            "git push https://oauth2:{s}@gitlab.example.com/ml/x.git",
            "GITLAB_TOKEN={s}",
            "glab auth status: {s} expired",
        ],
        "glpat-",
        B64URL,
        20,
    ),
    "digitalocean": _token(
        ["doctl auth init -t {s}", "DIGITALOCEAN_TOKEN={s}", "do api 401 for {s}"], "dop_v1_", HEX, 64
    ),
    "password_flag": _pw_kind(
        [
            "backup.sh --user {u} --password {s} --host db01",
            "kubectl create secret --password={s}",
            "java -jar tool.jar -password {s}",
            "pg_dumpall --db-password '{s}'",
        ]
    ),
    "mysql_p": _pw_kind(
        [
            "mysql -h db01 -u {u} -p{s} train_meta",
            "mysqldump -u{u} -p{s} --all-databases",
            "mariadb -u {u} -p'{s}' -e 'show status'",
        ]
    ),
    "token_flag": _pw_kind(
        [
            "wandb login --api-key {s}",
            "vault login --token={s}",
            "registry-cli --auth-token {s} push",
            "rclone --client-secret {s} sync",
        ]
    ),
    "url_password": _pw_kind(
        [
            "DSN postgres://{u}:{s}@db01:5432/mlflow",
            "celery broker amqp://{u}:{s}@rabbit:5672//",
            "redis://:{s}@cache:6379/0 refused",
            "pip index https://{u}:{s}@pypi.internal/simple",
        ],
        URL_PW,
    ),
    "env_password": _pw_kind(
        [
            "PGPASSWORD={s} psql -h db01 -U {u}",
            "MYSQL_PWD={s} mysql -e 'select 1'",
            "env DB_PASS={s} REDIS_PASSWORD={s} ./start",
            "SECRET_KEY={s}",
        ]
    ),
    "credentials_prose": _pw_kind(
        [
            "login with credentials {u}/{s} failed",
            "using credentials {u}:{s} for the registry",
            "creds: {u}/{s}",
        ]
    ),
    "json_password": _pw_kind(
        ['{{"username": "{u}", "password": "{s}"}}', "config: {{'db_password': '{s}'}}", "password: {s}"]
    ),
    "tool_password": _pw_kind(
        [
            "sshpass -p {s} ssh {u}@gpu-node-02",
            "redis-cli -h cache -a {s} ping",
            "curl -u {u}:{s} https://artifacts/api",
            "docker login -u {u} -p {s} registry.local",
        ]
    ),
    "bearer": _one(
        ["Authorization: Bearer {s}", "curl -H 'Authorization: Token {s}' http://api/v1", "x-api-key: {s}"],
        lambda rng: _r(rng, B64URL, rng.randint(32, 64)),
    ),
    "basic_auth": _basic,
    "password_phrase": _pw_kind(["the new root password is {s}", "password set to {s} for {u}"]),
}


def generate(n: int = 300, seed: int = 16) -> list[Planted]:
    """``n`` planted secrets, every kind about equally often, in a shuffled order."""
    rng = random.Random(seed)
    names = sorted(KINDS)
    out = [Planted(names[i % len(names)], *KINDS[names[i % len(names)]](rng)) for i in range(n)]
    rng.shuffle(out)
    return out


def survivors(outputs: Iterable[str] | str, planted: Iterable[Planted]) -> list[tuple[str, str]]:
    """(kind, leaked window) for every planted secret with any 8-char window left in ``outputs``."""
    text = outputs if isinstance(outputs, str) else "\n".join(outputs)
    seen: set[str] = set()
    for variant in {text, text.replace("\\n", "\n"), text.replace("\\/", "/")}:  # JSON escapes too
        seen.update(variant[i : i + WINDOW] for i in range(len(variant) - WINDOW + 1))
    leaked = []
    for p in planted:
        for m in p.material:
            windows = [m[i : i + WINDOW] for i in range(max(len(m) - WINDOW + 1, 1))]
            hit = next((w for w in windows if w in seen or (len(w) < WINDOW and w in text)), None)
            if hit is not None:
                leaked.append((p.kind, hit))
                break
    return leaked
