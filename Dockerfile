# beamsync container image: a release build linked with the Swift standard library and Foundation
# statically, on Debian 12 with only the C libraries it loads (libpq, libgit2, libssh2, libcurl).
#
#   docker build -t beamsync:0.1.0 .                      # the controller image (default target)
#   docker build --target ci -t beamsync:0.1.0-ci .       # the same binary plus git, gh, curl, jq
#                                                         # for the pull-request jobs in examples/ci/
#
# scripts/package-check.sh proves what this file relies on without a container engine: it links
# the binary the same way, checks that it needs no Swift runtime library, and runs it with a
# clean environment in a minimal Debian 12 root that holds exactly RUNTIME_PACKAGES.

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG DEBIAN_IMAGE=debian:12-slim

FROM ${SWIFT_IMAGE} AS build
# The -dev packages the build links against (scripts/lib/common.sh lists the same ones).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        pkg-config libpq-dev libyaml-dev libgit2-dev libssh2-1-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
# Every target the manifest declares must exist, tests included, although only beamsync is built.
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product beamsync \
 && install -D -m 0755 "$(swift build -c release --static-swift-stdlib --show-bin-path)/beamsync" /out/beamsync

FROM ${DEBIAN_IMAGE} AS base
# The shared libraries the binary needs (checked by scripts/package-check.sh against `ldd`).
# No postgresql: in a container beamsync talks to the database DATABASE_URL names; the embedded
# database (DATABASE_URL unset) is for a workstation.
ARG RUNTIME_PACKAGES="ca-certificates libpq5 libgit2-1.5 libssh2-1 libcurl4 libstdc++6"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/beamsync /usr/local/bin/beamsync
RUN beamsync --version

# For CI jobs that post plans on pull requests: the job's shell, git, gh and curl/jq run here.
# It runs as root, like the CI runners' own checkout steps.
FROM base AS ci
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git gh curl jq \
 && rm -rf /var/lib/apt/lists/*
ENV BEAMSYNC_HOME=/tmp/beamsync NO_COLOR=1

# The controller: an unprivileged user with a fixed uid (the Kubernetes manifest's runAsUser),
# state and caches under /var/lib/beamsync and /var/cache/beamsync.
FROM base AS runtime
RUN groupadd --system --gid 10001 beamsync \
 && useradd --system --uid 10001 --gid beamsync --home-dir /var/lib/beamsync --shell /usr/sbin/nologin beamsync \
 && install -d -o beamsync -g beamsync -m 0750 /var/lib/beamsync /var/cache/beamsync
USER 10001:10001
ENV BEAMSYNC_HOME=/var/lib/beamsync
WORKDIR /var/lib/beamsync
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/beamsync"]
CMD ["--help"]
