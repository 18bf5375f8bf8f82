# customer-gateway: `serve` with a mounted config. Build: docker build -t customer-gateway .
# Run: docker run -p 8000:8000 -v $PWD/gateway.toml:/etc/customer-gateway/gateway.toml:ro \
#        -e GATEWAY_ADMIN_KEY=... -e MENU_APPLICATION_KEY=... customer-gateway
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --no-create-home gateway
USER gateway
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
ENTRYPOINT ["customer-gateway"]
CMD ["serve", "--config", "/etc/customer-gateway/gateway.toml", "--host", "0.0.0.0", "--port", "8000"]
