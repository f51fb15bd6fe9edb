#!/bin/sh
# The workers' broker user, made (or its password set again) at every deployment: it may declare,
# read and write Covenant's own exchanges and queues (`covenant.…`) and publish its retry copies
# through the default exchange, and nothing else: no other vhost object, no management tag.
# Tenants' users are made by operators (docs/operations.md, "Set up a new tenant").
set -eu
node=rabbit@rabbitmq-1
password=${RABBITMQ_WORKERS_PASSWORD:?set RABBITMQ_WORKERS_PASSWORD}
if rabbitmqctl -q -n "$node" list_users | grep -q '^covenant-workers\b'; then
    rabbitmqctl -q -n "$node" change_password covenant-workers "$password"
else
    rabbitmqctl -q -n "$node" add_user covenant-workers "$password"
fi
rabbitmqctl -q -n "$node" set_user_tags covenant-workers
rabbitmqctl -q -n "$node" set_permissions -p / covenant-workers \
    '^covenant\..*' '^(covenant\..*|amq\.default)$' '^covenant\..*'
