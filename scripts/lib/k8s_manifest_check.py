"""Checks deploy/kubernetes/beamsync.yaml for what the controller needs (the API schema is
checked separately with kubernetes-validate --strict).

usage: python3 k8s_manifest_check.py MANIFEST DOCKERFILE

Prints one line per problem on stderr and exits 1 if there is any. On success prints shell
assignments (for `eval`) that scripts/package-check.sh uses to replay the pgpass hand-over:
init_command (array), pgpassfile, run_as_user, fs_group, secret_mount, run_mount.
"""
import re
import shlex
import sys

import yaml

manifest_path, dockerfile_path = sys.argv[1], sys.argv[2]
problems = []


def problem(text):
    problems.append(f"{manifest_path}: {text}")


with open(manifest_path, encoding="utf-8") as f:
    manifest_text = f.read()
documents = [d for d in yaml.safe_load_all(manifest_text) if d]
by_kind = {}
for d in documents:
    by_kind.setdefault(d.get("kind"), []).append(d)


def one(kind):
    found = by_kind.get(kind, [])
    if len(found) != 1:
        problem(f"expected one {kind}, found {len(found)}")
        return {}
    return found[0]


deployment, service, pdb = one("Deployment"), one("Service"), one("PodDisruptionBudget")
config_map = one("ConfigMap")
spec = deployment.get("spec", {})
template = spec.get("template", {})
pod = template.get("spec", {})
labels = template.get("metadata", {}).get("labels", {})
containers = pod.get("containers", [])
init_containers = pod.get("initContainers", [])
main = next((c for c in containers if c.get("name") == "beamsync"), None)
if main is None:
    problem("no container named beamsync")
    main = {}


def matches(selector):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# Two replicas, kept apart, and a disruption budget that leaves one.
if spec.get("replicas") != 2:
    problem(f"spec.replicas is {spec.get('replicas')}, expected 2 (one leader, one standby)")
if not matches(spec.get("selector", {}).get("matchLabels")):
    problem("spec.selector does not match the pod template's labels")
anti = pod.get("affinity", {}).get("podAntiAffinity", {})
terms = [t.get("podAffinityTerm", {}) for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
terms += anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
if not any(t.get("topologyKey") == "kubernetes.io/hostname" and matches(t.get("labelSelector", {}).get("matchLabels"))
           for t in terms):
    problem("no podAntiAffinity on kubernetes.io/hostname that selects the replicas themselves")
if pdb and not matches(pdb.get("spec", {}).get("selector", {}).get("matchLabels")):
    problem("the PodDisruptionBudget does not select the pods")

# The image's user (Dockerfile) is the one the pod runs as.
with open(dockerfile_path, encoding="utf-8") as f:
    uid_match = re.search(r"useradd[^\n]*--uid (\d+)", f.read())
image_uid = int(uid_match.group(1)) if uid_match else None
security = pod.get("securityContext", {})
if security.get("runAsNonRoot") is not True or security.get("runAsUser") != image_uid:
    problem(f"the pod must run as non-root uid {image_uid} (the Dockerfile's beamsync user)")
if security.get("fsGroup") is None:
    problem("securityContext.fsGroup is unset: the secret files would be unreadable for the user")

# Health endpoints on the port beamsync listens on; a Service for webhooks.
args = main.get("args", [])
listen = next((a.split("=", 1)[1] for a in args if a.startswith("--listen=")), None)
listen_port = int(listen.rsplit(":", 1)[1]) if listen else None
ports = {p.get("name"): p.get("containerPort") for p in main.get("ports", [])}
for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    get = main.get(probe, {}).get("httpGet", {})
    if get.get("path") != path:
        problem(f"{probe} must GET {path}, found {get.get('path')}")
    port = get.get("port")
    if ports.get(port, port) != listen_port:
        problem(f"{probe} port {port} is not the --listen port {listen_port}")
target = next(iter(service.get("spec", {}).get("ports", [])), {}).get("targetPort") if service else None
if not matches(service.get("spec", {}).get("selector")) or ports.get(target, target) != listen_port:
    problem("the Service must select the pods and target the --listen port")

# Resource requests everywhere.
for c in containers + init_containers:
    requests = c.get("resources", {}).get("requests", {})
    if "cpu" not in requests or "memory" not in requests:
        problem(f"container {c.get('name')} has no cpu and memory requests")
    if c.get("image") != main.get("image"):
        problem(f"container {c.get('name')} uses {c.get('image')}, not the beamsync image")

# Every file the arguments name is mounted, from a key that exists.
secret_keys = set(re.findall(r"--from-(?:file|literal)=([A-Za-z0-9_.-]+)=", manifest_text))
volumes = {v.get("name"): v for v in pod.get("volumes", [])}
mounts = main.get("volumeMounts", [])


def volume_at(path):
    best = None
    for m in mounts:
        root = m.get("mountPath", "").rstrip("/") + "/"
        if (path + "/").startswith(root) and (best is None or len(root) > len(best[0])):
            best = (root, m)
    return best


for arg in args:
    if not arg.startswith("--") or "=" not in arg:
        continue
    flag, value = arg[2:].split("=", 1)
    if not flag.endswith("-file") and flag != "cache-dir":
        continue
    found = volume_at(value)
    if found is None:
        problem(f"--{flag}={value} is not on any volume mount")
        continue
    root, mount = found
    volume = volumes.get(mount.get("name"), {})
    key = value[len(root):]
    if flag == "cache-dir":
        if mount.get("readOnly") or "emptyDir" not in volume and "persistentVolumeClaim" not in volume:
            problem(f"--cache-dir {value} must be a writable volume")
    elif "secret" in volume and key not in secret_keys:
        problem(f"--{flag} names secret key {key}, which the `kubectl create secret` line does not create")
    elif "configMap" in volume and key not in [i.get("path") for i in volume["configMap"].get("items", [])]:
        problem(f"--{flag} names {key}, which the ConfigMap volume does not project")
env = {e.get("name"): e for e in main.get("env", [])}
database_key = env.get("DATABASE_URL", {}).get("valueFrom", {}).get("secretKeyRef", {}).get("key")
if database_key not in secret_keys:
    problem("DATABASE_URL must come from a key of the beamsync secret")
if main.get("securityContext", {}).get("readOnlyRootFilesystem"):
    for path in ("/tmp", env.get("BEAMSYNC_HOME", {}).get("value", "/var/lib/beamsync")):
        found = volume_at(path)
        if found is None or found[1].get("readOnly"):
            problem(f"{path} must be a writable volume (the root file system is read-only)")

# libpq reads a password file only without group/other bits; with fsGroup the kubelet mounts
# secrets 0440. An init container must copy it, as the runtime user, to a private volume.
pgpassfile = env.get("PGPASSFILE", {}).get("value")
copy = next((c for c in init_containers if pgpassfile and pgpassfile in c.get("command", []) + c.get("args", [])), None)
if copy is None:
    problem("PGPASSFILE must be a copy an init container makes (a secret file is group-readable under fsGroup)")
    copy = {}
command = copy.get("command", []) + copy.get("args", [])
run_mount = volume_at(pgpassfile or "/")
init_mounts = {m.get("mountPath"): m for m in copy.get("volumeMounts", [])}
if run_mount is None or "emptyDir" not in volumes.get(run_mount[1].get("name"), {}):
    problem("PGPASSFILE must be on an emptyDir volume")
elif run_mount[0].rstrip("/") not in init_mounts:
    problem("the init container does not mount the volume PGPASSFILE is on")
secret_mount = next((m.get("mountPath") for m in copy.get("volumeMounts", []) if "secret" in volumes.get(m.get("name"), {})), None)
if secret_mount is None:
    problem("the pgpass init container does not mount the secret")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print("init_command=(" + " ".join(shlex.quote(str(a)) for a in command) + ")")
print(f"pgpassfile={shlex.quote(pgpassfile)}")
print(f"run_as_user={security.get('runAsUser')}")
print(f"fs_group={security.get('fsGroup')}")
print(f"secret_mount={shlex.quote(secret_mount)}")
print(f"run_mount={shlex.quote(run_mount[0].rstrip('/'))}")
