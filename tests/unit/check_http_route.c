/*
 * Unit tests for the route table of supervisor/monitor/http.c: which
 * method and path reach which endpoint, which of them need the bearer
 * token (the status token's or the admin's), and what refuses the rest
 * (404, or 405 for a path answered to another method and for a method no
 * route takes, whatever the path).
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "supervisor/monitor/http.h"
#include "supervisor/monitor/http_auth.h"

/* The route's code, and whether it needs the token (-1: not a route). */
static unsigned int
route(const char *method, const char *path, int *token)
{
	*token = -1;
	return http_route_check(method, path, token);
}

START_TEST(test_endpoints_and_their_token)
{
	static const struct {
		const char	*path;
		int		 token;
	} routes[] = {
		{ "/", HTTP_ROUTE_OPEN }, { "/healthz", HTTP_ROUTE_OPEN },
		{ "/status", HTTP_ROUTE_STATUS },
		{ "/metrics", HTTP_ROUTE_STATUS }, { "/job", HTTP_ROUTE_STATUS },
		{ "/jobs", HTTP_ROUTE_STATUS }, { "/dead", HTTP_ROUTE_STATUS },
	};
	size_t	i;
	int	token;

	for (i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		ck_assert_uint_eq(route("GET", routes[i].path, &token), 200);
		ck_assert_int_eq(token, routes[i].token);
		/* HEAD is answered as GET (without the body, by MHD). */
		ck_assert_uint_eq(route("HEAD", routes[i].path, &token), 200);
		ck_assert_int_eq(token, routes[i].token);
	}
}
END_TEST

/* The one route that changes state: POST only, with the admin token. */
START_TEST(test_retry_is_post_only_and_needs_the_admin)
{
	static const char *const	 others[] = { "GET", "HEAD", "PUT",
	    "DELETE", "post" };
	size_t				 i;
	int				 token;

	ck_assert_uint_eq(route("POST", "/retry", &token), 200);
	ck_assert_int_eq(token, HTTP_ROUTE_ADMIN);
	/* No side effect through a GET (a link, an <img>, a prefetch). */
	for (i = 0; i < sizeof others / sizeof others[0]; i++) {
		ck_assert_uint_eq(route(others[i], "/retry", &token), 405);
		ck_assert_int_eq(token, -1);
	}
	/* Nothing else takes a POST: /dead is read-only. */
	ck_assert_uint_eq(route("POST", "/dead", &token), 405);
	ck_assert_uint_eq(route("POST", "/status", &token), 405);
	ck_assert_uint_eq(route("POST", "/retry/", &token), 404);
	ck_assert_uint_eq(route("POST", "/Retry", &token), 404);
	ck_assert_int_eq(token, -1);
}
END_TEST

START_TEST(test_unknown_paths_are_not_found)
{
	static const char *const	 paths[] = { "", "/nope", "/status/",
	    "/Status", "/statusx", "/metrics/x", "//", "/healthz?x=1",
	    "/dead/", "/retry?id=1", "/retryx" };
	size_t				 i;
	int				 token;

	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		ck_assert_uint_eq(route("GET", paths[i], &token), 404);
		ck_assert_int_eq(token, -1);
		ck_assert_uint_eq(route("HEAD", paths[i], &token), 404);
	}
}
END_TEST

START_TEST(test_other_methods_are_not_allowed_anywhere)
{
	static const char *const	 methods[] = { "PUT", "DELETE",
	    "OPTIONS", "PATCH", "TRACE", "get", "" };
	static const char *const	 paths[] = { "/", "/status", "/nope",
	    "/retry", "/dead" };
	size_t				 i, j;
	int				 token;

	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		for (j = 0; j < sizeof paths / sizeof paths[0]; j++) {
			ck_assert_uint_eq(route(methods[i], paths[j], &token),
			    405);
			ck_assert_int_eq(token, -1);
		}
}
END_TEST

/* A state-changing request from another site's page is refused. */
START_TEST(test_only_this_servers_origin_may_change_state)
{
	/* No Origin: not a browser's cross-site request. */
	ck_assert_int_eq(http_auth_origin_ok(NULL, "127.0.0.1:7301"), 1);
	ck_assert_int_eq(http_auth_origin_ok(NULL, NULL), 1);
	ck_assert_int_eq(http_auth_origin_ok("http://127.0.0.1:7301",
	    "127.0.0.1:7301"), 1);
	ck_assert_int_eq(http_auth_origin_ok("HTTP://LocalHost:80",
	    "localhost:80"), 1);
	ck_assert_int_eq(http_auth_origin_ok("http://[::1]:7301",
	    "[::1]:7301"), 1);
	ck_assert_int_eq(http_auth_origin_ok("http://evil.example",
	    "127.0.0.1:7301"), 0);
	ck_assert_int_eq(http_auth_origin_ok("null", "127.0.0.1:7301"), 0);
	/* Behind a TLS proxy the page's own origin is https. */
	ck_assert_int_eq(http_auth_origin_ok("https://mpsup.example",
	    "mpsup.example"), 1);
	ck_assert_int_eq(http_auth_origin_ok("https://evil.example",
	    "mpsup.example"), 0);
	ck_assert_int_eq(http_auth_origin_ok("ftp://127.0.0.1:7301",
	    "127.0.0.1:7301"), 0);
	ck_assert_int_eq(http_auth_origin_ok("127.0.0.1:7301",
	    "127.0.0.1:7301"), 0);
	ck_assert_int_eq(http_auth_origin_ok("http://127.0.0.1:7301.evil.example",
	    "127.0.0.1:7301"), 0);
	ck_assert_int_eq(http_auth_origin_ok("http://127.0.0.1",
	    "127.0.0.1:7301"), 0);
	ck_assert_int_eq(http_auth_origin_ok("http://127.0.0.1:7301", NULL), 0);
	ck_assert_int_eq(http_auth_origin_ok("http://", ""), 0);
}
END_TEST

static Suite *
http_route_suite(void)
{
	Suite	*s = suite_create("http_route");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_endpoints_and_their_token);
	tcase_add_test(tc, test_retry_is_post_only_and_needs_the_admin);
	tcase_add_test(tc, test_unknown_paths_are_not_found);
	tcase_add_test(tc, test_other_methods_are_not_allowed_anywhere);
	tcase_add_test(tc, test_only_this_servers_origin_may_change_state);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(http_route_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
