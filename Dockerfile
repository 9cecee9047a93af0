# Image for the service roles (used by docker-compose.yml). Postgres and Kafka come from their own images.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY infra ./infra
RUN pip install --no-cache-dir .
ENV PJS_HTTP_HOST=0.0.0.0
EXPOSE 8000
CMD ["pjs", "run", "api"]
