# status-check job image: the static binary, a POSIX shell (busybox), CA
# certificates and an unprivileged user (65532). No ENTRYPOINT: GitLab Runner
# feeds the job script to the image's shell, and an entrypoint would swallow it.
#
#   docker build -t status-check:dev .
#   buildah bud --build-arg VERSION=1.2.0 -t status-check:1.2.0 .
#
# Build args, so a machine without a registry can build from local bases:
#   BUILDER_IMAGE  base of the build stage (Rust on Alpine). A builder image
#                  that already holds a staged /rootfs skips the compile
#                  (scripts/image-rootfs); scripts/release-suites/20-image builds one
#                  with `buildah from scratch`.
#   RUNTIME_BASE   base of the final stage (scratch: the rootfs is complete).
#   VERSION, REVISION, SOURCE  OCI labels.
ARG BUILDER_IMAGE=docker.io/library/rust:1-alpine
ARG RUNTIME_BASE=scratch

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
COPY . .
RUN sh scripts/image-rootfs /rootfs

FROM ${RUNTIME_BASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://gitlab.com/status-check/status-check
COPY --from=build /rootfs/ /
# The home directory itself must belong to the user: copy its parent.
COPY --from=build --chown=65532:65532 /rootfs/home/ /home/
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    HOME=/home/status-check \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/status-check
LABEL org.opencontainers.image.title="status-check" \
      org.opencontainers.image.description="Drive GitLab external status checks from CI jobs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT"
CMD ["/bin/sh"]
