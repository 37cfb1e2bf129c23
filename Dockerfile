# The Rekap service image: `docker build -t rekap .`, then `docker run rekap tabulator run`.
# Two stages: build the wheel (with the schemas inside), then install it alone on a slim base.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.2.2
COPY pyproject.toml README.md ./
COPY services ./services
COPY schemas ./schemas
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim
RUN useradd --system --uid 10001 --no-create-home rekap && mkdir /site /var/lib/rekap \
    && chown rekap:rekap /site /var/lib/rekap && chmod 700 /var/lib/rekap  # the site's volume; the election key's
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
USER rekap
ENV REKAP_LOG_FORMAT=json PYTHONUNBUFFERED=1
EXPOSE 8000
ENTRYPOINT ["rekap"]
CMD ["tabulator", "run"]
