/*
 * jagajalan_ingest_gate: Mosquitto 2.x plugin (plugin API v5) that refuses gateways' readings
 * after a broker start until ingest has subscribed to them.
 *
 * Why: ingest's workers read the readings through a shared subscription
 * ("$share/ingest/jagajalan/v1/+/readings") in persistent sessions, so whatever is published
 * while a worker is away is queued for it. But Mosquitto 2.0 does not write shared
 * subscriptions to its persistence file (persist__subs_save walks the plain subscribers of
 * each topic only; seen on 2.0.11 and 2.0.21), so after a broker restart the workers'
 * sessions come back without their subscription. Until a worker subscribes again, a reading
 * reaches only the plain subscribers (the alerts service, say): the broker acknowledges it,
 * the gateway deletes it from its spool, and it never reaches the store. The chaos soak of
 * issue 15 lost readings so at every broker restart (docs/reliability.md).
 *
 * The rule: from the broker's start until a client of the ingest user (plugin_opt_user,
 * default "ingest") subscribes to the readings filter (plugin_opt_topic, default
 * "jagajalan/v1/+/readings"), plainly or as "$share/<group>/<filter>", every PUBLISH on a
 * topic that filter matches is refused as "not authorized" (MQTT 5 PUBACK 0x87; MQTT 3.1.1
 * has no PUBACK refusal: there the broker drops it, so gateways use MQTT 5). A gateway keeps a
 * refused batch in its spool and sends it again (gateway/runtime/publisher.py). From that
 * subscription on, the gate stays open until the broker stops: the workers' sessions hold the
 * subscription while they are away, and a configuration reload (SIGHUP) keeps it open.
 *
 * How: a MOSQ_EVT_ACL_CHECK callback that runs before acl_file's (plugins are registered
 * first). It answers MOSQ_ERR_PLUGIN_DEFER (acl_file decides) for everything but a refused
 * reading; it sees the ingest user's SUBSCRIBE in the same callback (access
 * MOSQ_ACL_SUBSCRIBE). One notice line when the gate opens, and at most one every 10 s while
 * it refuses (how many so far), without payloads.
 *
 * It needs an acl_file (or another ACL plugin) beside it: when every ACL callback defers,
 * Mosquitto refuses, so with this plugin alone nothing could publish or subscribe.
 *
 * What it does not do: it does not tell ingest's shared group apart from another
 * subscription of the ingest user to the filter (any opens the gate); a subscription that
 * acl_file then refuses still opens it (the ACL gives the ingest user read access to the
 * readings: deploy/mosquitto/acl.example); it does not close again if every worker leaves
 * for good (then the broker answers "no matching subscribers", which gateways also keep).
 *
 * Build: deploy/mosquitto/plugin/build.sh.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define PLUGIN_NAME "jagajalan_ingest_gate"
#define FILTER_MAX 256
#define USER_MAX 128

static mosquitto_plugin_id_t *plugin_id = NULL;
static char filter[FILTER_MAX] = "jagajalan/v1/+/readings";
static char user[USER_MAX] = "ingest";
static bool open_ = false;
static unsigned long refused = 0;
static time_t said_at = 0;

/* The filter of a subscription without its "$share/<group>/" prefix. */
static const char *plain_filter(const char *sub)
{
	const char *rest;

	if (strncmp(sub, "$share/", 7) != 0) {
		return sub;
	}
	rest = strchr(sub + 7, '/');
	return rest ? rest + 1 : sub;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	const char *username;
	bool matches = false;
	time_t now;

	(void)event;
	(void)userdata;

	if (open_ || ed->topic == NULL) {
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	if (ed->access == MOSQ_ACL_SUBSCRIBE) {
		username = mosquitto_client_username(ed->client);
		if (username && strcmp(username, user) == 0 && strcmp(plain_filter(ed->topic), filter) == 0) {
			open_ = true;
			mosquitto_log_printf(MOSQ_LOG_NOTICE,
					PLUGIN_NAME ": %s subscribed to %s (client id '%s'): accepting its "
					"messages from now on (%lu refused before)", user, filter,
					mosquitto_client_id(ed->client), refused);
		}
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	if (ed->access != MOSQ_ACL_WRITE) {
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	if (mosquitto_topic_matches_sub(filter, ed->topic, &matches) != MOSQ_ERR_SUCCESS || !matches) {
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	refused++;
	now = time(NULL);
	if (refused == 1 || now - said_at >= 10) {
		said_at = now;
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				PLUGIN_NAME ": refused a publish on %s from '%s' (%lu so far): %s has not "
				"subscribed to %s since the broker started; gateways keep such messages and "
				"send them again", ed->topic, mosquitto_client_id(ed->client), refused, user,
				filter);
	}
	return MOSQ_ERR_ACL_DENIED;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	int i;

	for (i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) {
			return 5;
		}
	}
	return -1;
}

static int copy_option(char *to, size_t size, const struct mosquitto_opt *opt)
{
	if (opt->value == NULL || opt->value[0] == '\0' || strlen(opt->value) >= size) {
		mosquitto_log_printf(MOSQ_LOG_ERR,
				PLUGIN_NAME ": plugin_opt_%s must be 1 to %zu characters, got '%s'", opt->key,
				size - 1, opt->value ? opt->value : "");
		return MOSQ_ERR_INVAL;
	}
	snprintf(to, size, "%s", opt->value);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	int i;
	int rc;

	(void)userdata;

	for (i = 0; i < option_count; i++) {
		if (strcmp(options[i].key, "topic") == 0) {
			rc = copy_option(filter, sizeof(filter), &options[i]);
			if (rc == MOSQ_ERR_SUCCESS && mosquitto_sub_topic_check(filter) != MOSQ_ERR_SUCCESS) {
				mosquitto_log_printf(MOSQ_LOG_ERR,
						PLUGIN_NAME ": plugin_opt_topic '%s' is not a valid topic filter", filter);
				rc = MOSQ_ERR_INVAL;
			}
		} else if (strcmp(options[i].key, "user") == 0) {
			rc = copy_option(user, sizeof(user), &options[i]);
		} else {
			mosquitto_log_printf(MOSQ_LOG_ERR,
					PLUGIN_NAME ": unknown option plugin_opt_%s (it takes plugin_opt_topic and "
					"plugin_opt_user)", options[i].key);
			rc = MOSQ_ERR_INVAL;
		}
		if (rc != MOSQ_ERR_SUCCESS) {
			return rc;
		}
	}
	plugin_id = identifier;
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;

	if (plugin_id == NULL) {
		return MOSQ_ERR_SUCCESS;
	}
	return mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
}
