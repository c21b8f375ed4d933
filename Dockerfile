# The node image of docker-compose.yml: the shanhe CLI on Python 3.11, nothing else.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY tlog ./tlog
COPY signing ./signing
COPY consensus ./consensus
COPY contracts ./contracts
COPY node ./node
COPY api ./api
RUN pip install --no-cache-dir . && rm -rf /app/*

# Keys, genesis and configs come from `shanhe init` output mounted at /net (see README).
VOLUME ["/net"]
EXPOSE 8700 8701 8702 8703
ENTRYPOINT ["shanhe"]
CMD ["--help"]
