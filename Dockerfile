# The daemon's image, for a Phala dstack CVM (see docs/deploy-to-phala.md).
#
# Reproducible by intent: the base is pinned by digest, npm dependencies come from package-lock.json
# (npm install with the lock), and the git commit is baked in. Rebuild from a commit and compare digests as the guide
# describes; the image digest is what the CVM's app-compose names, and so what its compose-hash
# (measured into RTMR3 at boot) commits to.
# The base, pinned by digest, is required: --build-arg BASE=node:22-bookworm-slim@sha256:<digest>.
ARG BASE
FROM ${BASE}

# nginx: the data plane; bubblewrap + util-linux (setpriv): the tenant sandbox; git: git deploys;
# python3: python tenants; iptables: packet rules between Layer 2 apps and Layer 1 services.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nginx-light bubblewrap util-linux git python3 iptables ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/dstack-webhost
COPY package.json package-lock.json ./
# npm install with the lock (see scripts/ensure-installed.mjs for why not npm ci).
RUN npm install --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY examples ./examples

ARG WEBHOST_COMMIT=unknown
ENV WEBHOST_COMMIT=${WEBHOST_COMMIT} \
    WEBHOST_STATE_DIR=/var/lib/webhost \
    WEBHOST_PRODUCTION=1 \
    WEBHOST_DATA_PLANE=nginx \
    NODE_ENV=production

VOLUME /var/lib/webhost
EXPOSE 8080
ENTRYPOINT ["node", "/opt/dstack-webhost/bin/webhost.mjs", "serve"]
