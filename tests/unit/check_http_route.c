/*
 * Unit tests for the route table of supervisor/monitor/http.c: which
 * method and path reach which endpoint, which of them need the bearer
 * token, and what refuses the rest (404, or 405 for a method no route
 * takes, whatever the path).
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "supervisor/monitor/http.h"

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
		{ "/", 0 }, { "/healthz", 0 }, { "/status", 1 },
		{ "/metrics", 1 }, { "/job", 1 }, { "/jobs", 1 },
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

START_TEST(test_unknown_paths_are_not_found)
{
	static const char *const	 paths[] = { "", "/nope", "/status/",
	    "/Status", "/statusx", "/metrics/x", "//", "/healthz?x=1" };
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
	static const char *const	 methods[] = { "POST", "PUT", "DELETE",
	    "OPTIONS", "PATCH", "TRACE", "get", "" };
	static const char *const	 paths[] = { "/", "/status", "/nope" };
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

static Suite *
http_route_suite(void)
{
	Suite	*s = suite_create("http_route");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_endpoints_and_their_token);
	tcase_add_test(tc, test_unknown_paths_are_not_found);
	tcase_add_test(tc, test_other_methods_are_not_allowed_anywhere);
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
