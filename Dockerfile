# The Rekap service image: `docker build -t rekap .`, then `docker run rekap tabulator run`.
# Two stages: build the wheel (with the schemas inside), then install it alone, in a virtualenv on Debian's
# Python 3.11. BASE is debian:bookworm; deploy/podman/build-images.sh builds it on a local one
# (localhost/debian:bookworm, made with debootstrap) where no registry is reachable.
ARG BASE=debian:bookworm
FROM ${BASE} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv ca-certificates && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /build && PIP_CERT=/etc/ssl/certs/ca-certificates.crt /build/bin/pip install --no-cache-dir build==1.2.2
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY schemas ./schemas
RUN PIP_CERT=/etc/ssl/certs/ca-certificates.crt /build/bin/python -m build --wheel --outdir /dist

FROM ${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv ca-certificates && apt-get clean && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home rekap && mkdir /site /var/lib/rekap /var/lib/rekap-photos \
    && chown rekap:rekap /site /var/lib/rekap /var/lib/rekap-photos && chmod 700 /var/lib/rekap /var/lib/rekap-photos
# (the volumes: the site's, the election key's, the photos')
COPY --from=build /dist/*.whl /tmp/
RUN python3 -m venv /opt/rekap && PIP_CERT=/etc/ssl/certs/ca-certificates.crt /opt/rekap/bin/pip install --no-cache-dir "$(echo /tmp/*.whl)[s3]" && rm /tmp/*.whl
USER rekap
ENV PATH=/opt/rekap/bin:$PATH REKAP_LOG_FORMAT=json PYTHONUNBUFFERED=1
EXPOSE 8000
ENTRYPOINT ["rekap"]
CMD ["tabulator", "run"]
